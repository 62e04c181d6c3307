#!/bin/sh
# SLURMD_NODENAME is set by slurmd inside a job; outside Slurm, fall back to the host name.
if [ -n "$SLURMD_NODENAME" ]; then
  printf '%s\n' "$SLURMD_NODENAME" > node.txt
else
  hostname > node.txt
fi
