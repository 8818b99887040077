from monkeys_swe.cli import main

main()
