#!/bin/sh
# Runs the workflow with Debian's Python (the packages app.yaml declares), from the application's folder.
exec /usr/bin/python3 "$UWS_DEFINITION_DIR/epn_spectra.py" "$@"
