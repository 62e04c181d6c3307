#!/bin/sh
# Values arrive as positional arguments only; never evaluated.
printf 'hello %s\n' "$1" > greeting.txt
