"""Google Gemini API (`models/{model}:generateContent` / `:streamGenerateContent`)."""

PROTOCOL = "gemini"
