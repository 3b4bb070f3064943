#!/usr/bin/env python3
"""Extract the MHLW guideline catalogue (appendix tables 付表1-3) from the seed text.

Usage: extract_catalogue.py SEED.txt CATALOGUE.md > data/mhlw-6.0/catalogue.json

The seed is a text dump of the three tables: every cell starts on a line beginning with a tab,
lines without a tab continue the cell above, and every table row has seven cells (section number,
area, item, target, technical measures, operational measures, sample regulation text). IDs, areas,
titles, targets and the tech flag come from catalogue.md (the project's numbering); the texts come
from the seed, row by row. The seed's placeholders (○○, X, XX, XXX, △△, ・・・) become named
parameters, declared in the parameter table at the end. The output is committed; this script is
kept so that the data can be re-derived and checked.
"""
import json
import re
import sys

seed_path, cat_path = sys.argv[1], sys.argv[2]
seed = open(seed_path, encoding="utf-8").read()

# --- catalogue.md: the project's IDs ------------------------------------------------------------
cat_rows = []
for line in open(cat_path, encoding="utf-8"):
    m = re.match(r"\| (T\d-\d+\.\d+) \| ([^|]*)\| ([^|]*) \| ([^|]*) \| ([^|]*)\|", line)
    if m:
        cat_rows.append(
            dict(id=m.group(1), area=m.group(2).strip(), title=m.group(3).strip(),
                 targets=m.group(4).strip(), tech=m.group(5).strip() == "yes"))

# --- seed: cells and rows -----------------------------------------------------------------------
parts = re.split(r"\n(付表[１２３])", seed)
tables = [parts[k + 1] for k in range(1, len(parts), 2)]
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪"


def clean(text):
    lines = [l.strip().replace("\u00b7 ", "・").replace("\t", "") for l in text.split("\n")]
    return "\n".join(l for l in lines if l and l != "　")


seed_items = []  # (table, section, [rows])
for tno, body in enumerate(tables, 1):
    body = body[body.find("運用管理規程文例") + len("運用管理規程文例"):]
    cells = []
    for line in body.split("\n"):
        if line.startswith("\t"):
            cells.append(line[1:])
        elif cells:
            cells[-1] += "\n" + line
    cells = [clean(c) for c in cells]
    rows = [cells[j:j + 7] for j in range(0, len(cells) - len(cells) % 7, 7)]
    section = 0
    for marker, area, title, target, tech, ops, sample in rows:
        if marker:
            section = CIRCLED.index(marker[0]) + 1
        new_item = bool(title) or bool(marker)
        target = {"Ａ": "A", "A": "A", "B": "B", "Ｂ": "B", "C": "C", "Ｃ": "C"}.get(target)
        row = dict(target=target, technical=tech, operational=ops, sample=sample)
        if new_item:
            seed_items.append(dict(table=tno, section=section, title=title, rows=[row]))
        else:
            seed_items[-1]["rows"].append(row)

assert len(seed_items) == len(cat_rows) == 80, (len(seed_items), len(cat_rows))

# --- placeholders -> named parameters -----------------------------------------------------------
SUBST = [
    (r"○○病院", "{facility_name}"),
    (r"電子カルテシステム、オーダエントリシステム、画像管理システム、・・・", "{target_systems}"),
    (r"毎年X回", "毎年{audit_times_per_year}回"),
    (r"XXとの契約により", "{external_auditor}との契約により"),
    (r"利用者は、XXX、XXX、XXXである", "利用者は、{system_users}である"),
    (r"確定者はXXである", "確定者は{confirmer}である"),
    (r"「確定」については、付表に記す。［付表として、各システムの操作における「確定」の定義を行う。“ｘｘ機器のｙｙボタン操作の時点”、“確定操作”等］",
     "「確定」は、{confirmation_definition}とする。"),
    (r"△△", "{custody_supervisor}"),
    (r"XX", "{custodian_name}"),
]

PARAMETERS = [
    ("facility_name", "施設名", "facility name", None),
    ("target_systems", "対象システム", "systems covered", "電子カルテシステム（kiroku）"),
    ("audit_times_per_year", "年間の監査回数", "audits per year", "1"),
    ("external_auditor", "外部の監査委託先", "external auditor", "外部監査機関"),
    ("system_users", "システムの利用者", "system users", "院長、医師、看護師及び医療事務職員"),
    ("confirmer", "確定者", "confirmer", "当該記録を作成した医師又は歯科医師"),
    ("confirmation_definition", "「確定」の定義", "what counts as confirmation",
     "記録の作成者が kiroku の確定操作を行った時点"),
    ("custodian_name", "外部保存の受託事業者", "external storage custodian", "外部保存受託事業者"),
    ("custody_supervisor", "外部保存の管理・監査の委託先", "external storage supervisor",
     "外部保存管理委託先"),
]

items = []
used = {p[0]: [] for p in PARAMETERS}
for cat, got in zip(cat_rows, seed_items):
    tno = int(cat["id"][1])
    section = int(cat["id"].split("-")[1].split(".")[0])
    assert (tno, section) == (got["table"], got["section"]), (cat, got["table"], got["section"])
    seed_title = got["title"].replace("\n", " / ") or cat["title"]
    assert seed_title == cat["title"], (cat["id"], seed_title, cat["title"])
    for row in got["rows"]:
        for pat, rep in SUBST:
            row["sample"] = re.sub(pat, rep, row["sample"])
        for name in re.findall(r"\{([a-z_]+)\}", row["sample"]):
            if cat["id"] not in used[name]:
                used[name].append(cat["id"])
        left = re.findall(r"○○|XX|ＸＸ|・・・|△△|ｘｘ|X回", row["sample"])
        assert not left, (cat["id"], left)
    items.append(dict(id=cat["id"], table=tno, section=section, area=cat["area"],
                      title=cat["title"], targets=cat["targets"], tech=cat["tech"],
                      rows=got["rows"]))

out = dict(
    edition="mhlw-6.0",
    name="医療情報システムの安全管理に関するガイドライン 付表1-3（運用管理の実施項目例）",
    source="seed 000_a3e0e9a1b683b1b7.txt; IDs per catalogue.md",
    parameters=[dict(name=n, label_ja=ja, label_en=en, default=d, used_by=used[n])
                for n, ja, en, d in PARAMETERS],
    items=items,
)
json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
print()
