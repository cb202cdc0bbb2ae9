from switchpoint.cli.app import main

main()
