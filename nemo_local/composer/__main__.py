"""``python -m nemo_local.composer "<prompt>" --out track.wav``."""

from nemo_local.composer.cli import main

if __name__ == "__main__":
    main()
