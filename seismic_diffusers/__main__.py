"""`python -m seismic_diffusers` runs the `seismic-diffusers` command line."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
