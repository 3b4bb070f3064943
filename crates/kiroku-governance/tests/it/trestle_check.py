"""Validates kiroku's OSCAL documents with compliance-trestle, an independent implementation.

Usage: trestle_check.py CATALOG PROFILE ASSESSMENT_RESULTS
Loads each file into trestle's pydantic models (OSCAL 1.1), then imports them into a fresh trestle
workspace and runs `trestle validate -a` there. Prints "ok" and exits 0 when all pass; exit 2 when
trestle is not installed (the caller skips loudly, or fails under CI=true); exit 1 on a failure.
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    from trestle.oscal.assessment_results import AssessmentResults
    from trestle.oscal.catalog import Catalog
    from trestle.oscal.profile import Profile
except ImportError:
    print("compliance-trestle is not installed", file=sys.stderr)
    sys.exit(2)

catalog_path, profile_path, results_path = sys.argv[1:4]
models = [(catalog_path, Catalog, "catalog"), (profile_path, Profile, "profile"), (results_path, AssessmentResults, "assessment-results")]
for path, model, key in models:
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    obj = model.parse_obj(doc[key])
    print(f"{key}: loaded {obj.uuid}")

catalog = Catalog.oscal_read(__import__("pathlib").Path(catalog_path))
print("catalog controls:", sum(len(g.controls or []) for g in catalog.groups or []))

with tempfile.TemporaryDirectory() as ws:
    def trestle(*args):
        r = subprocess.run([sys.executable, "-m", "trestle", *args], cwd=ws, capture_output=True, text=True)
        if r.returncode != 0:
            print(f"trestle {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}", file=sys.stderr)
            sys.exit(1)
        return r.stdout
    trestle("init")
    for path, _, key in models:
        trestle("import", "-f", os.path.abspath(path), "-o", "kiroku")
    print(trestle("validate", "-a"))
print("ok")
