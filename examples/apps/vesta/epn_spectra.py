"""EPN-TAP spectra of a solar-system target -> self-described VOTables and thumbnails.

For each TAP service (URL|schema): an ADQL query over <schema>.epn_core (TAP sync, through pyvo),
then for each row its spectrum file (raw ASCII, M4AST style) turned into a VOTable 1.4 whose PARAMs
carry the row's metadata (astropy), and a PNG thumbnail (matplotlib). Writes, in the job's work dir:
  spectrum-NNN.vot / spectrum-NNN.png   one pair per converted spectrum
  index.vot                             every spectrum with its result names
  report.json                           services queried, files skipped (and why)
  provenance-steps.jsonl                the steps, for the job's provenance
A file that cannot be read is skipped and reported; no spectrum at all is an error.
"""
import argparse
import json
import math
import os
import sys
import urllib.error
import urllib.request
from datetime import datetime, timezone

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pyvo  # noqa: E402
from astropy.io.votable.tree import Field, Info, Param, Resource, Table, VOTableFile  # noqa: E402

# EPN-TAP columns carried into each spectrum's VOTable (name, datatype, unit, ucd).
META = [
    ("granule_uid", "char", None, "meta.id"),
    ("granule_gid", "char", None, "meta.id"),
    ("target_name", "char", None, "meta.id;src"),
    ("target_class", "char", None, "src.class"),
    ("instrument_host_name", "char", None, "meta.id;instr.obsty"),
    ("instrument_name", "char", None, "meta.id;instr"),
    ("time_min", "double", "d", "time.start"),
    ("time_max", "double", "d", "time.end"),
    ("spectral_range_min", "double", "Hz", "em.freq;stat.min"),
    ("spectral_range_max", "double", "Hz", "em.freq;stat.max"),
    ("bib_reference", "char", None, "meta.bib.bibcode"),
    ("service_title", "char", None, "meta.title"),
    ("access_url", "char", None, "meta.ref.url"),
]
RESULT_NAMES = {"votable": "spectrum-*.vot", "thumbnail": "spectrum-*.png"}


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def log_step(step, started, used=(), generated=(), derived=None):
    with open("provenance-steps.jsonl", "a", encoding="utf-8") as f:
        rec = {"step": step, "started": started, "ended": now(), "used": list(used), "generated": list(generated)}
        if derived:
            rec["derivedFrom"] = derived
        f.write(json.dumps(rec) + "\n")


def adql_string(s):
    """An ADQL string literal (quotes doubled)."""
    return "'" + s.replace("'", "''") + "'"


def build_query(schema, target, limit, dataproduct, group):
    where = [f"target_name = {adql_string(target)}"]
    if dataproduct != "any":
        # ivo_hashlist_has() is the standard test; LIKE works on every server.
        where.append(f"dataproduct_type LIKE {adql_string('%' + dataproduct + '%')}")
    if group:
        where.append(f"granule_gid = {adql_string(group)}")
    return f"SELECT TOP {int(limit)} * FROM {schema}.epn_core WHERE " + " AND ".join(where)


def parse_spectrum(text):
    """Wavelength (um), reflectance, error (or None): tolerant of headers, commas and -1 markers."""
    rows = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s[0] in "#;!%":
            continue
        parts = s.replace(",", " ").split()
        try:
            values = [float(p) for p in parts[:3]]
        except ValueError:
            continue  # a header line
        if len(values) < 2 or not all(math.isfinite(v) for v in values):
            continue
        wl, refl = values[0], values[1]
        err = values[2] if len(values) > 2 else None
        if wl <= 0:
            continue
        rows.append((wl, None if refl == -1 else refl, None if err == -1 else err))
    if len(rows) < 3:
        raise ValueError(f"{len(rows)} numeric rows (a spectrum needs at least 3 of wavelength and reflectance)")
    has_err = any(r[2] is not None for r in rows)
    return rows, has_err


def cell(row, name):
    try:
        v = row[name]
    except (KeyError, IndexError):
        return None
    if hasattr(v, "mask") and bool(np.ma.getmaskarray(v).all()):
        return None
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, (np.floating, float)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, (np.integer, int)):
        return int(v)
    return str(v)


def write_votable(path, meta, rows, has_err, query, service):
    vot = VOTableFile(version="1.4")
    res = Resource(type="results")
    vot.resources.append(res)
    res.infos.append(Info(name="QUERY", value=query))
    res.infos.append(Info(name="SERVICE", value=service))
    t = Table(vot, name="spectrum")
    res.tables.append(t)
    for name, datatype, unit, ucd in META:
        value = meta.get(name)
        if datatype == "double":
            p = Param(vot, name=name, datatype="double", value="NaN" if value is None else repr(float(value)), ucd=ucd, unit=unit)
        else:
            text = "" if value is None else str(value)
            p = Param(vot, name=name, datatype="char", arraysize="*", value=text, ucd=ucd)
        t.params.append(p)
    t.fields.extend([
        Field(vot, name="wavelength", datatype="double", unit="um", ucd="em.wl"),
        Field(vot, name="reflectance", datatype="double", ucd="phys.albedo"),
    ])
    if has_err:
        t.fields.append(Field(vot, name="error", datatype="double", ucd="stat.error;phys.albedo"))
    t.create_arrays(len(rows))
    for i, (wl, refl, err) in enumerate(rows):
        t.array[i] = (wl, np.nan if refl is None else refl, np.nan if err is None else err) if has_err else (wl, np.nan if refl is None else refl)
    vot.to_xml(path)


def write_thumbnail(path, rows, title):
    wl = [r[0] for r in rows if r[1] is not None]
    refl = [r[1] for r in rows if r[1] is not None]
    fig, ax = plt.subplots(figsize=(2.5, 1.875), dpi=80)
    ax.plot(wl, refl, lw=0.8)
    ax.set_title(title, fontsize=7)
    ax.set_xlabel("wavelength (um)", fontsize=6)
    ax.set_ylabel("reflectance", fontsize=6)
    ax.tick_params(labelsize=5)
    fig.tight_layout(pad=0.3)
    fig.savefig(path)
    plt.close(fig)


def result_id(kind, index, count):
    """The job server names n>1 files of one result `<name>-<i>` (1-based, by file name), one file `<name>`."""
    return kind if count == 1 else f"{kind}-{index + 1}"


def write_index(path, entries, count):
    vot = VOTableFile(version="1.4")
    res = Resource(type="results")
    vot.resources.append(res)
    t = Table(vot, name="index")
    res.tables.append(t)
    cols = [("granule_uid", "meta.id"), ("target_name", "meta.id;src"), ("instrument_name", "meta.id;instr"),
            ("service", "meta.ref.url"), ("source_url", "meta.ref.url"), ("votable", "meta.ref"), ("thumbnail", "meta.ref")]
    for name, ucd in cols:
        t.fields.append(Field(vot, name=name, datatype="char", arraysize="*", ucd=ucd))
    t.fields.append(Field(vot, name="time_min", datatype="double", unit="d", ucd="time.start"))
    t.create_arrays(len(entries))
    for i, e in enumerate(entries):
        t.array[i] = (e["granule_uid"], e["target_name"], e["instrument_name"], e["service"], e["source_url"],
                      result_id("votable", i, count), result_id("thumbnail", i, count), np.nan if e["time_min"] is None else e["time_min"])
    vot.to_xml(path)


def fetch(url, timeout=60):
    req = urllib.request.Request(url, headers={"User-Agent": "uws-cluster epn-spectra"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        data = r.read(50 * 1024 * 1024 + 1)
    if len(data) > 50 * 1024 * 1024:
        raise ValueError("larger than 50 MB")
    return data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--services", required=True)
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--dataproduct", default="sp")
    ap.add_argument("--group", default="")
    a = ap.parse_args()

    services = []
    for item in a.services.split():
        url, _, schema = item.partition("|")
        if not url.startswith(("http://", "https://")) or not schema.replace("_", "").isalnum():
            print(f"services: {item!r} is not URL|schema (e.g. http://voparis-tap-planeto.obspm.fr/tap|m4ast)", file=sys.stderr)
            return 2
        services.append((url.rstrip("/"), schema))

    os.makedirs("raw", exist_ok=True)
    report = {"target": a.target, "services": [], "skipped": [], "converted": 0}
    rows = []  # (service, query, row metadata)
    for url, schema in services:
        query = build_query(schema, a.target, a.limit, a.dataproduct, a.group)
        started = now()
        try:
            table = pyvo.dal.TAPService(url).run_sync(query, maxrec=a.limit).to_table()
        except Exception as e:  # a failing service never stops the others
            report["services"].append({"url": url, "schema": schema, "query": query, "ok": False, "error": str(e)[:500]})
            continue
        report["services"].append({"url": url, "schema": schema, "query": query, "ok": True, "rows": len(table)})
        log_step(f"query {schema}", started, used=[url])
        for r in table:
            meta = {name: cell(r, name) for name, _, _, _ in META}
            rows.append((url, query, meta))

    # Deterministic order: the job server numbers results by file name.
    converted = []
    for k, (url, query, meta) in enumerate(rows, start=1):
        n = len(converted) + 1
        access = meta.get("access_url")
        uid = meta.get("granule_uid") or access or f"row {n}"
        if not access:
            report["skipped"].append({"granule_uid": uid, "reason": "no access_url"})
            continue
        started = now()
        raw = os.path.join("raw", f"row-{k:03d}.txt")
        try:
            data = fetch(access)
            with open(raw, "wb") as f:
                f.write(data)
            log_step("download", started, used=[access], generated=[raw])
            started = now()
            spec_rows, has_err = parse_spectrum(data.decode("utf-8", "replace"))
        except (urllib.error.URLError, OSError, ValueError) as e:
            report["skipped"].append({"granule_uid": uid, "url": access, "reason": str(e)[:300]})
            continue
        vot = f"spectrum-{n:03d}.vot"
        png = f"spectrum-{n:03d}.png"
        write_votable(vot, meta, spec_rows, has_err, query, url)
        log_step("votable", started, used=[raw], generated=[vot], derived={vot: raw})
        started = now()
        write_thumbnail(png, spec_rows, f"{meta.get('target_name') or a.target} {uid}"[:60])
        log_step("thumbnail", started, used=[vot], generated=[png], derived={png: vot})
        converted.append({"granule_uid": uid, "target_name": meta.get("target_name") or "", "instrument_name": meta.get("instrument_name") or "",
                          "service": url, "source_url": access, "time_min": meta.get("time_min")})

    report["converted"] = len(converted)
    with open("report.json", "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    if not converted:
        failed = [s for s in report["services"] if not s["ok"]]
        why = (f"every service failed ({'; '.join(s['error'][:120] for s in failed)})" if len(failed) == len(services)
               else f"{sum(s.get('rows', 0) for s in report['services'])} rows found, {len(report['skipped'])} files skipped (see report.json)")
        print(f"no spectrum of {a.target} could be converted: {why}", file=sys.stderr)
        return 1
    started = now()
    write_index("index.vot", converted, len(converted))
    log_step("index", started, used=[f"spectrum-{i + 1:03d}.vot" for i in range(len(converted))], generated=["index.vot"])
    print(f"{len(converted)} spectra of {a.target} converted, {len(report['skipped'])} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
