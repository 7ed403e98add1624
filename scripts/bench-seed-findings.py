"""Gives the bench case (on a copy of the bench data, never the original) the issue's twelve
pre-review findings: its round's own findings are kept, and copies of them are added with new ids,
each boxed on the first page of one of the case's materials in turn, so the case page draws twelve
numbered boxes over several page images. Usage: bench-seed-findings.py DB CREDIT_CODE [N]"""
import json
import sqlite3
import sys
import uuid

db, credit_code = sys.argv[1], sys.argv[2]
want = int(sys.argv[3]) if len(sys.argv) > 3 else 12
con = sqlite3.connect(db)
app = con.execute(
    "SELECT a.id FROM applications a JOIN firms f ON f.id = a.firm_id WHERE f.credit_code = ? "
    "ORDER BY a.created_at DESC LIMIT 1", (credit_code,)).fetchone()
if app is None:
    sys.exit(f"no application of firm {credit_code} in {db}")
app_id = app[0]
rnd, findings = con.execute(
    "SELECT round, findings FROM prereview_rounds WHERE application_id = ? ORDER BY round DESC LIMIT 1",
    (app_id,)).fetchone()
findings = json.loads(findings or "[]")
if not findings:
    sys.exit(f"application {app_id} has no findings to copy")
materials = [(m, k) for m, k in con.execute(
    "SELECT id, kind FROM materials WHERE application_id = ? ORDER BY created_at", (app_id,))]
base = len(findings)
i = 0
while len(findings) < want:
    f = dict(findings[i % base])
    material, kind = materials[i % len(materials)]
    f["id"] = str(uuid.uuid4())
    f["material_id"], f["kind"] = material, kind
    # Boxes down the page, a band each, inside any page the pre-review reads (≥ 1000 px high).
    f["region"] = {"page": 1, "x": 60 + 20 * (i % 5), "y": 80 + 70 * (i % 12), "w": 420, "h": 48}
    f["message"] = f"（基准测试添加的第 {len(findings) + 1} 条）" + f.get("message", "")
    findings.append(f)
    i += 1
con.execute("UPDATE prereview_rounds SET findings = ? WHERE application_id = ? AND round = ?",
            (json.dumps(findings, ensure_ascii=False), app_id, rnd))
con.commit()
print(f"{app_id}: round {rnd} has {len(findings)} findings over {len(materials)} materials")
