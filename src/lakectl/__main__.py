from lakectl.cli import main

main()
