# Loads a job's provenance with Debian's python3-prov (the `prov` library, 2.0) and reports what it
# sees, as one JSON line. Run with /usr/bin/python3.
#   prov_check.py DOC.json DOC.xml DOC.provn DOC.svg
# - json_eq_xml: our PROV-JSON and our PROV-XML load into equal documents
# - json_roundtrip / xml_roundtrip: the library writes each back and reads it again, equal
# - provn_lib: the library's PROV-N of our PROV-JSON (compared with ours by the test)
# - svg_titles: the <title> of every node group of our SVG (the SVG must parse)
import io
import json
import sys
import warnings
import xml.etree.ElementTree as ET

from prov.model import ProvDocument

warnings.simplefilter("error")  # e.g. an XML attribute the library cannot represent

jpath, xpath, npath, spath = sys.argv[1:5]
out = {}
dj = ProvDocument.deserialize(source=jpath, format="json")
dx = ProvDocument.deserialize(source=xpath, format="xml")
out["json_eq_xml"] = dj == dx
out["json_roundtrip"] = ProvDocument.deserialize(content=dj.serialize(format="json"), format="json") == dj
out["xml_roundtrip"] = ProvDocument.deserialize(content=dx.serialize(format="xml"), format="xml") == dx
out["records"] = len(dj.get_records())
out["provn_lib"] = dj.serialize(format="provn")
out["provn_lib_from_xml_records"] = len(dx.get_records())
svg = ET.parse(spath).getroot()
ns = {"s": "http://www.w3.org/2000/svg"}
out["svg_titles"] = [g.find("s:title", ns).text for g in svg.iter("{http://www.w3.org/2000/svg}g") if "node" in (g.get("class") or "").split()]
print(json.dumps(out))
