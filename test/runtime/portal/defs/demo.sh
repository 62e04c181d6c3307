#!/bin/sh
# The portal tests' job (demo.yaml): values arrive as separate arguments.
set -eu
seconds=$1 count=$2 label=$3 notes=$4
cd "$UWS_WORK_DIR"
echo "demo stdout: label=$label count=$count"
echo "demo stderr: working" >&2
sleep "$seconds"
cp "$UWS_DEFINITION_DIR/plot.png" plot.png
{
  echo '<?xml version="1.0" encoding="UTF-8"?>'
  echo '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE type="results">'
  echo "<PARAM name=\"target_name\" datatype=\"char\" arraysize=\"*\" value=\"$label\"/>"
  echo '<PARAM name="phase_angle" datatype="double" unit="deg" value="12.5"/>'
  echo '<TABLE name="spectrum"><FIELD name="wavelength" datatype="double" unit="um" ucd="em.wl"/><FIELD name="reflectance" datatype="double" ucd="phys.albedo"/><DATA><TABLEDATA>'
  i=0
  while [ $i -lt $((count * 3)) ]; do echo "<TR><TD>0.$((45 + i))</TD><TD>1.0$i</TD></TR>"; i=$((i + 1)); done
  echo '</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>'
} > table.vot
if [ -n "$notes" ] && [ -f "$notes" ]; then cp "$notes" notes.txt; else echo "(no notes uploaded)" > notes.txt; fi
printf '{"label": "%s", "count": %s}\n' "$label" "$count" > summary.json
