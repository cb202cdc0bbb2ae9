"""`TokenCounter`: how many input tokens a request will be billed, and how sure we are.

Counting is two-phase, so that the hot path only pays for what a decision needs:

1. Estimate (always, microseconds for small requests, about 10 ms for 1M tokens): every
   text of the request goes through the character-class estimator (`charclass`), small
   texts joined into one pass, large ones (`cache_min_chars`) individually through the
   `PieceCache`, so an agent loop's resent history is not even re-scanned. Structure
   (message framing, names, tool calls, tool schemas: `openai_format`), images and the
   vendor ratio (`tokenizers`) and calibration (`calibration`) are added, each with its
   own contribution to `error_bound`.
2. Refine (only when `[tokens - error_bound, tokens + error_bound]` straddles one of the
   caller's `boundaries`, e.g. the reliability threshold or the model's context): texts
   are counted with the real BPE, largest first and cache first, until no boundary is
   straddled any more. For OpenAI models a fully refined count is exact (`exact=True`).
   For other vendors the BPE only removes the estimator's share of the error; the vendor
   ratio's share remains, so refinement is skipped when that share alone straddles.

The BPE phase can take hundreds of milliseconds on a cold megabyte-sized request:
`count_async` runs it in a worker thread so the event loop never waits on it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from switchpoint.chat.request import ChatRequest, Conversation
from switchpoint.tokens import bpe, charclass, openai_format
from switchpoint.tokens.calibration import NEUTRAL, Basis, Calibration, Calibrator
from switchpoint.tokens.piece_cache import CL100K, O200K, UNITS, PieceCache, key_of
from switchpoint.tokens.tally import Tally, tally_conversation, tally_request
from switchpoint.tokens.tokenizers import Family, Tokenizer, tokenizer_for

# cl100k spends about what o200k does on ASCII text (0.98-1.03x on the corpus) but up to
# 3x the o200k estimate on other scripts (Greek 3.0x, Arabic 2.3x, CJK 1.3-1.4x,
# measured). Estimates for cl100k models (legacy: gpt-4, gpt-3.5) therefore carry 5% of
# extra error, plus 2.2x the o200k tokens of their non-ASCII text, which is bounded by
# the count of UTF-8 continuation bytes (every non-ASCII character has at least one and
# costs o200k at most ~1.5 tokens for 3).
_CL100K_ASCII_SLACK: Final = 0.05
_CL100K_OTHER_SLACK: Final = 2.2


# Not frozen: a frozen dataclass's __init__ is slower, and this is made on every request.
@dataclass(slots=True)
class TokenCount:
    """Input tokens a request is expected to be billed: |billed - tokens| <= error_bound
    under the assumptions documented in docs/tokens.md."""

    tokens: int
    error_bound: int
    # Every text was counted with the vendor's real BPE (OpenAI models only).
    exact: bool
    # `tokens` before the calibration factor: what `Calibrator.observe` learns against.
    uncalibrated: int
    family: Family
    # What the texts were counted with: the estimator, the BPE, or some of each. A
    # calibration factor learned on one basis does not carry over to the other (it
    # includes the estimator's bias on the traffic it saw).
    basis: Basis = "estimate"

    @property
    def lower(self) -> int:
        return max(0, self.tokens - self.error_bound)

    @property
    def upper(self) -> int:
        return self.tokens + self.error_bound

    def decides(self, boundary: int) -> bool:
        """Whether `tokens <= boundary` has the same answer anywhere within the bound."""
        return self.upper <= boundary or self.lower > boundary


@dataclass(slots=True)
class _Measure:
    """Phase 1's result, kept for phase 2."""

    spec: Tokenizer
    encoding: bpe.EncodingName
    texts: list[str]
    uncertain_texts: list[str]
    text_units: int
    uncertain_units: int
    ascii_only: bool
    fixed: int
    fixed_slack: float
    media: int
    media_bound: int
    calibration: Calibration
    calibration_bpe: Calibration
    # UTF-8 continuation bytes of the texts; only computed for cl100k models.
    non_ascii_bytes: int


@dataclass(slots=True)
class _ToolsScan:
    cost: openai_format.ToolsCost
    units: int
    ascii_only: bool
    uncertain_units: int


class TokenCounter:
    def __init__(
        self,
        *,
        cache: PieceCache | None = None,
        calibrator: Calibrator | None = None,
        cache_min_chars: int = 2048,
    ) -> None:
        self.cache = cache if cache is not None else PieceCache()
        self.calibrator = calibrator
        # Texts shorter than this are estimated in one joined pass: looking them up
        # would cost more than scanning them.
        self.cache_min_chars = cache_min_chars

    # Public API ---------------------------------------------------------------------

    def count(
        self,
        request: ChatRequest,
        *,
        model: str,
        provider_type: str,
        boundaries: Sequence[int] = (),
        provider: str | None = None,
        force_exact: bool = False,
    ) -> TokenCount:
        """Count `request` for `model`; refine with the BPE only as far as needed to put
        every boundary outside the error bound (or everything, with `force_exact`)."""
        measure = self._measure(tally_request(request), model, provider_type, provider)
        return self._refine(measure, boundaries, force_exact)

    async def count_async(
        self,
        request: ChatRequest,
        *,
        model: str,
        provider_type: str,
        boundaries: Sequence[int] = (),
        provider: str | None = None,
        force_exact: bool = False,
    ) -> TokenCount:
        """As `count`, with any BPE work done in a worker thread (tiktoken releases the
        GIL, so the event loop keeps serving other requests meanwhile)."""
        return await self.prepare(request).count_async(
            model=model,
            provider_type=provider_type,
            boundaries=boundaries,
            provider=provider,
            force_exact=force_exact,
        )

    def count_conversation(
        self,
        conversation: Conversation,
        *,
        model: str,
        provider_type: str,
        boundaries: Sequence[int] = (),
        provider: str | None = None,
        force_exact: bool = False,
    ) -> TokenCount:
        measure = self._measure(tally_conversation(conversation), model, provider_type, provider)
        return self._refine(measure, boundaries, force_exact)

    def count_tally(
        self,
        tally: Tally,
        *,
        model: str,
        provider_type: str,
        boundaries: Sequence[int] = (),
        provider: str | None = None,
        force_exact: bool = False,
    ) -> TokenCount:
        """Count a hand-built `Tally` (one message, a summary...)."""
        measure = self._measure(tally, model, provider_type, provider)
        return self._refine(measure, boundaries, force_exact)

    def prepare(self, request: ChatRequest) -> PreparedRequest:
        """Scan `request` once, to count it for several candidate models (routing)."""
        return PreparedRequest(self, tally_request(request))

    # Phase 1: estimate --------------------------------------------------------------

    def _scan(self, texts: list[str]) -> tuple[int, bool]:
        """Estimate units of `texts` and whether they are all ASCII."""
        limit = self.cache_min_chars
        # Most requests are small: then no text can be cache-sized, and one pass does.
        large = sum(map(len, texts)) >= limit
        small = [s for s in texts if len(s) < limit] if large else texts
        # One CJK line would widen a joined string to 2-4 bytes a character, making the
        # join and the UTF-8 encoding several times slower: ASCII texts are joined apart.
        plain = [s for s in small if s.isascii()]
        ascii_only = len(plain) == len(small)
        if ascii_only:
            units = charclass.units("".join(small))
        else:
            units = charclass.units("".join(plain)) + charclass.units(
                "".join([s for s in small if not s.isascii()])
            )
        if large:
            cache = self.cache
            for text in texts:
                if len(text) >= limit:
                    key = key_of(text)
                    entry = cache.get(key)
                    if entry is None:
                        entry = [charclass.units(text), -1, -1]
                        cache.put(key, entry)
                    units += entry[UNITS]
                    ascii_only = ascii_only and text.isascii()
        return units, ascii_only

    def _measure(
        self,
        tally: Tally,
        model: str,
        provider_type: str,
        provider: str | None,
        scanned: tuple[int, bool, int] | None = None,
        tools_scanned: dict[bpe.EncodingName, _ToolsScan] | None = None,
    ) -> _Measure:
        spec = tokenizer_for(model, provider_type)
        encoding = spec.basis_encoding
        if scanned is None:
            units, ascii_only = self._scan(tally.texts)
            uncertain_units = (
                charclass.units("".join(tally.uncertain_texts)) if tally.uncertain_texts else 0
            )
        else:
            units, ascii_only, uncertain_units = scanned
        texts = tally.texts
        uncertain = tally.uncertain_texts
        fixed = (
            tally.messages * (openai_format.PER_MESSAGE + openai_format.ROLE)
            + tally.names * openai_format.PER_NAME
            + tally.tool_calls * openai_format.TOOL_CALL
            + tally.tool_results * openai_format.TOOL_RESULT
            + (openai_format.REPLY_PRIMING if tally.reply_priming else 0)
        )
        if tally.tools:
            tools = tools_scanned.get(encoding) if tools_scanned is not None else None
            if tools is None:
                tools = self._scan_tools(tally, encoding)
                if tools_scanned is not None:
                    tools_scanned[encoding] = tools
            texts = [*texts, *tools.cost.texts]
            uncertain = [*uncertain, *tools.cost.uncertain_texts]
            fixed += tools.cost.fixed
            units += tools.units
            uncertain_units += tools.uncertain_units
            ascii_only = ascii_only and tools.ascii_only
        slack = float((tally.tool_calls + tally.tool_results) * openai_format.TOOL_SLACK)

        media = tally.images * spec.image.estimate
        media_bound = tally.images * spec.image.bound
        if tally.tools and spec.tools_prompt.high:
            media += spec.tools_prompt.estimate
            media_bound += spec.tools_prompt.bound
        non_ascii = 0
        if encoding == "cl100k_base" and not ascii_only:
            non_ascii = sum(
                len(t.encode("utf-8", "surrogatepass")) - len(t) for t in texts if not t.isascii()
            )
        calibration = calibration_bpe = NEUTRAL
        if self.calibrator is not None and spec.exact_encoding is None:
            calibrated_as = provider or provider_type
            calibration = self.calibrator.get(calibrated_as, model, "estimate")
            calibration_bpe = self.calibrator.get(calibrated_as, model, "bpe")
        return _Measure(
            spec,
            encoding,
            texts,
            uncertain,
            units,
            uncertain_units,
            ascii_only,
            fixed,
            slack,
            media,
            media_bound,
            calibration,
            calibration_bpe,
            non_ascii,
        )

    def _scan_tools(self, tally: Tally, encoding: bpe.EncodingName) -> _ToolsScan:
        cost = openai_format.tools_cost(tally.tools, encoding)
        units, ascii_only = self._scan(cost.texts)
        uncertain = charclass.units("".join(cost.uncertain_texts)) if cost.uncertain_texts else 0
        return _ToolsScan(cost, units, ascii_only, uncertain)

    def _result(
        self,
        m: _Measure,
        exact_tokens: int,
        estimated_units: int,
        estimated_pieces: int,
        all_exact: bool,
    ) -> TokenCount:
        """Combine `exact_tokens` (texts counted with the BPE) with the estimate of the
        rest (`estimated_units` over `estimated_pieces` texts)."""
        scale = charclass.SCALE
        estimated = estimated_units / scale
        uncertain = m.uncertain_units / scale
        text_error = float(
            charclass.error_bound(round(estimated), estimated_pieces) if estimated_pieces else 0
        )
        if m.encoding == "cl100k_base" and estimated_pieces:
            text_error += estimated * _CL100K_ASCII_SLACK + _CL100K_OTHER_SLACK * min(
                m.non_ascii_bytes, estimated
            )
        basis = exact_tokens + estimated + uncertain + m.fixed
        basis_error = text_error + 0.5 * uncertain + m.fixed_slack

        spec = m.spec
        basis_kind: Basis = (
            "bpe" if estimated_pieces == 0 else "estimate" if exact_tokens == 0 else "mixed"
        )
        tokens: float
        if spec.exact_encoding is not None:
            tokens = basis + m.media
            error = basis_error + m.media_bound
            uncalibrated = tokens
        else:
            uncalibrated = basis * spec.ratio + m.media
            calibration = (
                m.calibration_bpe
                if basis_kind == "bpe"
                else m.calibration
                if basis_kind == "estimate"
                else NEUTRAL
            )
            factor = calibration.factor
            tokens = uncalibrated * factor
            if calibration.bound is None:
                vendor_error = spec.ratio_uncertainty * basis * factor
            else:
                vendor_error = calibration.bound * tokens
            error = (basis_error * spec.ratio + m.media_bound) * factor + vendor_error
        # Positional: keyword arguments cost a microsecond more here, on every request.
        return TokenCount(
            round(tokens),
            math.ceil(error),
            all_exact and spec.exact_encoding is not None,
            round(uncalibrated),
            spec.family,
            basis_kind,
        )

    # Phase 2: refine ----------------------------------------------------------------

    def _worth_refining(self, m: _Measure, estimate: TokenCount, boundaries: Sequence[int]) -> bool:
        straddled = [b for b in boundaries if not estimate.decides(b)]
        if not straddled:
            return False
        if m.spec.exact_encoding is not None:
            # What the BPE cannot remove is only the assumed tool-call framing, and the
            # count itself moves by up to the estimator's bound (its bias on agent
            # transcripts is +6-10%): a boundary within the framing slack of the
            # estimate is usually decided once counted.
            return True
        # The error no BPE can remove: the vendor ratio (or calibration), media, slack.
        floor = self._result(m, round(m.text_units / charclass.SCALE), 0, 0, True)
        return any(floor.decides(b) for b in straddled)

    def _refine(self, m: _Measure, boundaries: Sequence[int], force_exact: bool) -> TokenCount:
        texts = m.texts
        estimate = self._result(m, 0, m.text_units, len(texts), False)
        if not force_exact:
            # The common case, inline: no boundary within the bound.
            lower = estimate.tokens - estimate.error_bound
            upper = estimate.tokens + estimate.error_bound
            for b in boundaries:
                if lower <= b < upper:
                    break
            else:
                return estimate
            if not self._worth_refining(m, estimate, boundaries):
                return estimate

        slot = O200K if m.encoding == "o200k_base" else CL100K
        cache = self.cache
        exact = 0
        units_left = m.text_units
        pieces_left = len(texts)
        pending: list[tuple[str, tuple[int, int], list[int] | None]] = []
        # Cache first: an agent loop's history is known exactly already.
        for text in texts:
            key = key_of(text)
            entry = cache.get(key)
            if entry is not None and entry[slot] >= 0:
                exact += entry[slot]
                units_left -= entry[UNITS]
                pieces_left -= 1
            else:
                pending.append((text, key, entry))

        def settled() -> TokenCount | None:
            current = self._result(m, exact, units_left, pieces_left, pieces_left == 0)
            if pieces_left == 0 or (
                not force_exact and all(current.decides(b) for b in boundaries)
            ):
                return current
            return None

        if (done := settled()) is not None:
            return done
        pending.sort(key=lambda item: len(item[0]), reverse=True)
        for text, key, entry in pending:
            count = bpe.count(m.encoding, text)
            if entry is None:
                entry = [charclass.units(text), -1, -1]
                cache.put(key, entry)
            entry[slot] = count
            exact += count
            units_left -= entry[UNITS]
            pieces_left -= 1
            if (done := settled()) is not None:
                return done
        return self._result(m, exact, 0, 0, True)


class PreparedRequest:
    """A request tallied and scanned once, countable for any number of models: routing
    compares candidates of different vendors without re-reading the body. Cheap to
    create; holds the request's strings until dropped."""

    def __init__(self, counter: TokenCounter, tally: Tally) -> None:
        self._counter = counter
        self.tally = tally
        units, ascii_only = counter._scan(tally.texts)
        uncertain = charclass.units("".join(tally.uncertain_texts)) if tally.uncertain_texts else 0
        self._scanned = (units, ascii_only, uncertain)
        self._tools: dict[bpe.EncodingName, _ToolsScan] = {}

    def _measure(self, model: str, provider_type: str, provider: str | None) -> _Measure:
        return self._counter._measure(
            self.tally, model, provider_type, provider, self._scanned, self._tools
        )

    def count(
        self,
        *,
        model: str,
        provider_type: str,
        boundaries: Sequence[int] = (),
        provider: str | None = None,
        force_exact: bool = False,
    ) -> TokenCount:
        measure = self._measure(model, provider_type, provider)
        return self._counter._refine(measure, boundaries, force_exact)

    async def count_async(
        self,
        *,
        model: str,
        provider_type: str,
        boundaries: Sequence[int] = (),
        provider: str | None = None,
        force_exact: bool = False,
    ) -> TokenCount:
        counter = self._counter
        measure = self._measure(model, provider_type, provider)
        estimate = counter._result(measure, 0, measure.text_units, len(measure.texts), False)
        if not force_exact and not counter._worth_refining(measure, estimate, boundaries):
            return estimate
        return await asyncio.to_thread(counter._refine, measure, boundaries, force_exact)
