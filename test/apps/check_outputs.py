"""Reads the Vesta workflow's downloads with astropy and matplotlib (as a user's tools would) and prints
a JSON summary: every VOTable parsed strictly, its FIELDs (name, unit, ucd) and PARAMs, every PNG decoded."""
import json
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
from astropy.io.votable import parse  # noqa: E402

out = {"votables": {}, "pngs": {}}
for p in sorted(Path(sys.argv[1]).iterdir()):
    if p.suffix == ".vot":
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # any VOTable warning fails the check
            vot = parse(str(p), verify="exception")
        t = vot.get_first_table()
        out["votables"][p.name] = {
            "version": vot.version,
            "fields": [[f.name, str(f.unit) if f.unit is not None else None, f.ucd] for f in t.fields],
            "params": {q.name: (q.value.decode() if isinstance(q.value, bytes) else str(q.value)) for q in t.params},
            "infos": {i.name: i.value for r in vot.resources for i in r.infos},
            "rows": len(t.array),
            "columns": {f.name: [str(v) for v in t.array[f.name][:50]] for f in t.fields if f.datatype == "char"},
        }
    elif p.suffix == ".png":
        img = mpimg.imread(str(p))
        out["pngs"][p.name] = list(img.shape)
print(json.dumps(out))
