#!/usr/bin/python3
"""Generate a province-scale dutyd configuration (TOML) for benchmarks.

Usage:
  /usr/bin/python3 bench/gen_fixture.py [--orgs N] [--posts N] [--seed N] -o FILE [--verify]
  /usr/bin/python3 bench/gen_fixture.py [...] --split -o DIR   (DIR/province.toml + DIR/conf.d/)

Shape (everything fictional, names generated from the seed):
  - the province: party committee, standing committee, inspection leading group,
    discipline organ, the five departments, the five party groups;
  - 14 cities (parent: the province committee), each with the same set;
  - ~100 counties (parent: a city committee): committee, discipline organ, the five
    departments and the government party group;
  - townships (party-committee, level township) under counties;
  - unit party committees (level unit: enterprises, schools, hospitals, ...) under cities
    and counties, until --orgs is reached.
  Smaller --orgs values shrink the number of cities and counties.

Posts:
  - every org gets a principal; about 5% of orgs change principal in mid-2026
    (two consecutive principal posts: `until` is the inclusive last day, the successor
    starts the next day);
  - the standing committee's principal is the committee's principal (same person, same
    dates), and the head of each organization department is also a member of its
    committee (in charge of that department) -- the few persons holding two posts;
  - party committees and party groups get 5-9 members so that the total is about --posts;
  - committee members are in charge of (in_charge_of) 1-3 child orgs of their committee,
    omitted when the committee has no child orgs (townships, units).
  Members start no earlier than the org's first principal, so the loader sees no vacancy.

--verify re-reads FILE with tomllib and checks the rules above (slow for the default size:
parsing ~10 MB of TOML takes a while); it exits 1 if a rule is broken.
A summary (orgs, persons, posts) goes to stderr.
"""

import argparse
import datetime
import json
import os
import random
import sys
import time

DEPARTMENTS = ["office", "organization", "propaganda", "united-front", "political-legal"]
PARTY_GROUPS = ["npc", "government", "cppcc", "court", "procuratorate"]
KINDS = {"party-committee", "working-committee", "standing-committee", "party-group",
         "department", "discipline-inspection", "leading-group"}
LEVELS = {"province", "city", "county", "township", "unit"}

# Characters commonly found in Chinese place names.
PLACE_CHARS = ("安平阳山河江城丰宁新东西南北盛兴德泰昌海庄林源清华明春凤龙岭台沙桥溪"
               "营屯口湾州原阜锦辽铁盘抚本丹营朝葫芦岫庙凌旅顺金普瓦房店开铁调兵法库"
               "康彰武黑凤岩宽甸桓绥中建昌喀左义县凌海北镇大石桥盖长海宁远广福吉祥和")
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董"
            "袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟"
            "熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志成海波"
         "宏斌鹏飞晓东文辉立新永庆利民春雷振宇德胜光荣家树学思维国栋俊峰")
RARE_GIVEN = "𠮷"  # U+20BB7, 4 UTF-8 octets: exercises encoding paths downstream

UNIT_KINDS_CITY = [
    ("{p}市第{n}中学", 3), ("{p}市第{n}小学", 3), ("{p}市第{n}人民医院", 2),
    ("{p}市中心医院{n}分院", 1), ("{p}{x}集团有限公司", 3), ("{p}{x}投资发展有限公司", 2),
    ("{p}职业技术学院{n}分院", 1), ("{p}市{x}实业有限公司", 2), ("{p}{x}大学", 1),
    ("{p}市{x}街道社区卫生服务中心", 1),
]
UNIT_KINDS_COUNTY = [
    ("{p}第{n}中学", 3), ("{p}第{n}小学", 4), ("{p}人民医院{n}分院", 1),
    ("{p}中医院", 1), ("{p}{x}农业发展有限公司", 2), ("{p}{x}供销合作社", 1),
    ("{p}{x}水务有限公司", 1), ("{p}{x}镇中心卫生院", 1),
]
DIGITS = "零一二三四五六七八九"


def chinese_ordinal(n):
    """1..999 in Chinese numerals, as in 第二十四中学."""
    if n < 10:
        return DIGITS[n]
    if n < 20:
        return "十" + (DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return DIGITS[n // 10] + "十" + (DIGITS[n % 10] if n % 10 else "")
    h, rest = divmod(n, 100)
    if rest == 0:
        return DIGITS[h] + "百"
    if rest < 10:
        return DIGITS[h] + "百零" + DIGITS[rest]
    tens = chinese_ordinal(rest)
    if rest < 20:
        tens = "一" + tens
    return DIGITS[h] + "百" + tens


class Generator:
    def __init__(self, n_orgs, n_posts, seed):
        self.rng = random.Random(seed)
        self.n_orgs = n_orgs
        self.n_posts = n_posts
        self.orgs = []          # dicts, in output order
        self.children = {}      # org id -> list of child org ids
        self.persons = []       # (id, name)
        self.posts = []         # dicts
        self.used_places = set()
        self.unit_counter = {}

    # ---- names -------------------------------------------------------------
    def place(self, length=2):
        for _ in range(1000):
            name = "".join(self.rng.choice(PLACE_CHARS) for _ in range(length))
            if name not in self.used_places and len(set(name)) == len(name):
                self.used_places.add(name)
                return name
        return self.place(length + 1)

    def brand(self):
        """A two-character trade name; repeats are fine."""
        while True:
            a, b = self.rng.choice(PLACE_CHARS), self.rng.choice(PLACE_CHARS)
            if a != b:
                return a + b

    def person_name(self):
        given = "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2, 2))))
        if self.rng.random() < 0.001:
            given = RARE_GIVEN + given[:1]
        return self.rng.choice(SURNAMES) + given

    # ---- orgs --------------------------------------------------------------
    def add_org(self, name, kind, level, parent=None, discipline=None, **extra):
        oid = "o%d" % (len(self.orgs) + 1)
        org = {"id": oid, "name": name, "kind": kind, "level": level}
        org.update(extra)
        if parent:
            org["parent"] = parent
            self.children.setdefault(parent, []).append(oid)
        if discipline:
            org["discipline_organ"] = discipline
        self.orgs.append(org)
        return org

    def add_node(self, place, level, parent, full):
        """Committee and its organs at a province/city/county node. Returns the committee."""
        if level == "province":
            p, zw, bg, fy, jd = place + "省", "省委", "办公厅", "高级人民法院", "巡视"
        elif level == "city":
            p, zw, bg, fy, jd = place + "市", "市委", "办公室", "中级人民法院", "巡察"
        else:
            suffix = self.rng.choice("县县区")
            p, zw, bg, fy, jd = place + suffix, suffix + "委", "办公室", "人民法院", "巡察"
        # The discipline organ's id is needed by the committee: reserve it right after.
        committee = self.add_org("中共" + place + zw, "party-committee", level, parent)
        cid = committee["id"]
        jw = self.add_org("中共%s纪律检查委员会 %s监察委员会" % (p, p),
                          "discipline-inspection", level, cid)
        committee["discipline_organ"] = jw["id"]
        d = jw["id"]
        node = {"committee": cid, "discipline": d, "departments": {}, "groups": {},
                "standing": None}
        if full:
            node["standing"] = self.add_org("中共%s%s常委会" % (place, zw), "standing-committee",
                                            level, cid, d)["id"]
            self.add_org("中共%s%s%s工作领导小组" % (place, zw, jd), "leading-group", level, cid, d,
                         group="inspection")
        dept_names = {"office": bg, "organization": "组织部", "propaganda": "宣传部",
                      "united-front": "统战部", "political-legal": "政法委员会"}
        for dep in DEPARTMENTS:
            node["departments"][dep] = self.add_org(
                "中共%s%s%s" % (place, zw, dept_names[dep]), "department", level, cid, d,
                department=dep)["id"]
        groups = PARTY_GROUPS if full else ["government"]
        group_names = {"npc": p + "人大常委会党组", "government": p + "人民政府党组",
                       "cppcc": "政协" + p + "委员会党组", "court": p + fy + "党组",
                       "procuratorate": p + "人民检察院党组"}
        for g in groups:
            node["groups"][g] = self.add_org(group_names[g], "party-group", level, cid, d,
                                             group=g)["id"]
        node["place"] = p
        return node

    def add_unit(self, parent_node, level_of_parent):
        templates = UNIT_KINDS_CITY if level_of_parent == "city" else UNIT_KINDS_COUNTY
        tpl = self.rng.choices([t for t, _ in templates], [w for _, w in templates])[0]
        p = parent_node["place"]
        if level_of_parent == "city":
            p = p[:-1]  # 某某市 -> 某某 (templates add 市 where needed)
        key = (parent_node["committee"], tpl)
        n = self.unit_counter.get(key, 0) + 1
        self.unit_counter[key] = n
        x = self.brand() if "{x}" in tpl else ""
        name = tpl.format(p=p, n=chinese_ordinal(n), x=x)
        return self.add_org("中共%s委员会" % name, "party-committee", "unit",
                            parent_node["committee"])

    def build_orgs(self):
        n = self.n_orgs
        if n < 14:
            raise SystemExit("gen_fixture: --orgs must be at least 14 (the province's own organs)")
        full_size, county_size = 14, 8  # orgs per province/city node, per county node
        # Shrink the skeleton for small sizes (the default size gives 14 cities and 100
        # counties: 1,010 orgs, ~5% of the total).
        n_cities = min(14, n // 1400)
        n_counties = min(100, n // 200)
        while full_size * (1 + n_cities) + county_size * n_counties > n:
            if n_counties > n_cities:
                n_counties -= 1
            elif n_cities > 0:
                n_cities -= 1
                n_counties = min(n_counties, n_cities * 10)
            else:
                break
        province = self.add_node(self.place(2), "province", None, full=True)
        cities = [self.add_node(self.place(2), "city", province["committee"], full=True)
                  for _ in range(n_cities)]
        counties = []
        for i in range(n_counties):
            city = cities[i % len(cities)] if cities else province
            counties.append(self.add_node(self.place(2), "county", city["committee"],
                                          full=False))
        # Townships: ~12 per county, at most ~7% of the orgs.
        remaining = n - len(self.orgs)
        n_townships = min(sum(self.rng.randint(8, 16) for _ in counties), int(n * 0.07),
                          remaining)
        for i in range(n_townships):
            county = counties[i % len(counties)]
            kind = self.rng.choice(("镇", "镇", "乡", "街道"))
            name = "中共%s%s%s委员会" % (county["place"], self.place(2), kind)
            self.add_org(name, "party-committee", "township", county["committee"])
        # Units fill the rest, under cities (40%) and counties (60%).
        parents = [(c, "city") for c in cities] + [(c, "county") for c in counties]
        if not parents:
            parents = [(province, "city")]
        weights = [0.4 / max(1, len(cities)) if lvl == "city" else 0.6 / max(1, len(counties))
                   for _, lvl in parents]
        while len(self.orgs) < n:
            node, lvl = self.rng.choices(parents, weights)[0]
            self.add_unit(node, lvl)
        self.nodes = [province] + cities + counties

    # ---- persons and posts ---------------------------------------------------
    def new_person(self):
        pid = "p%d" % (len(self.persons) + 1)
        self.persons.append((pid, self.person_name()))
        return pid

    def random_day(self, start, end):
        return start + datetime.timedelta(days=self.rng.randint(0, (end - start).days))

    def build_posts(self):
        rng = self.rng
        org_by_id = {o["id"]: o for o in self.orgs}
        standing_of = {n["committee"]: n["standing"] for n in self.nodes if n["standing"]}
        standing_ids = set(standing_of.values())
        principals = {}  # org id -> list of (person, from, until)
        handover_lo = datetime.date(2026, 4, 1)
        handover_hi = datetime.date(2026, 8, 31)
        first_lo = datetime.date(2019, 1, 1)
        first_hi = datetime.date(2025, 12, 31)
        candidates = [o["id"] for o in self.orgs if o["id"] not in standing_ids]
        handover = set(rng.sample(candidates, round(0.05 * len(candidates))))
        for oid in candidates:  # standing committees mirror their committee below
            start = self.random_day(first_lo, first_hi)
            if oid in handover:
                last = self.random_day(handover_lo, handover_hi)
                seq = [(self.new_person(), start, last),
                       (self.new_person(), last + datetime.timedelta(days=1), None)]
            else:
                seq = [(self.new_person(), start, None)]
            principals[oid] = seq
        for committee, standing in standing_of.items():
            principals[standing] = list(principals[committee])
        for org in self.orgs:  # output in org order
            for person, start, until in principals[org["id"]]:
                self.add_post(person, org["id"], "principal", start, until)

        # Members.
        eligible = [o["id"] for o in self.orgs if o["kind"] in ("party-committee", "party-group")]
        target = self.n_posts - len(self.posts)
        counts = self.member_counts(len(eligible), target)
        org_dept_of = {n["committee"]: n["departments"]["organization"] for n in self.nodes}
        for oid, count in zip(eligible, counts):
            first_from = principals[oid][0][1]
            kids = [c for c in self.children.get(oid, []) if c not in standing_ids]
            pool = kids[:]
            rng.shuffle(pool)

            def in_charge(extra=None):
                if not kids:
                    return None
                k = rng.randint(1, 3)
                chosen = [extra] if extra else []
                while len(chosen) < min(k, len(kids)):
                    if not pool:
                        pool.extend(kids)
                        rng.shuffle(pool)
                    c = pool.pop()
                    if c not in chosen:
                        chosen.append(c)
                return chosen

            made = 0
            dept = org_dept_of.get(oid)
            if dept and count > 0:
                # The organization department's head sits on the committee, mirroring
                # the dates of their department post.
                for person, start, until in principals[dept]:
                    self.add_post(person, oid, "member", max(start, first_from), until,
                                  in_charge(dept))
                made = 1
            for _ in range(count - made):
                start = self.random_day(first_from, max(first_from, datetime.date(2026, 3, 31)))
                self.add_post(self.new_person(), oid, "member", start, None, in_charge())

    def member_counts(self, n, target):
        """n counts in [5, 9] summing to target if possible (clamped otherwise)."""
        rng = self.rng
        if n == 0:
            return []
        clamped = max(5 * n, min(9 * n, target))
        if clamped != target:
            sys.stderr.write("gen_fixture: warning: %d member posts over %d party committees and "
                             "party groups is outside 5-9 each; making %d\n" % (target, n, clamped))
        target = clamped
        mean = target / n
        base = int(mean)
        counts = []
        for _ in range(n):
            c = base + (1 if rng.random() < mean - base else 0) + rng.choice((-1, 0, 0, 1))
            counts.append(min(9, max(5, c)))
        diff = target - sum(counts)
        while diff != 0:
            i = rng.randrange(n)
            if diff > 0 and counts[i] < 9:
                counts[i] += 1
                diff -= 1
            elif diff < 0 and counts[i] > 5:
                counts[i] -= 1
                diff += 1
        return counts

    def add_post(self, person, org, role, start, until, in_charge_of=None):
        post = {"person": person, "org": org, "role": role, "from": start}
        if until is not None:
            post["until"] = until
        if in_charge_of:
            post["in_charge_of"] = in_charge_of
        self.posts.append(post)

    # ---- output -------------------------------------------------------------
    def write(self, path, argv_summary):
        head = ["# Generated by bench/gen_fixture.py %s -- fictional data, do not edit." % argv_summary,
                "# orgs=%d persons=%d posts=%d" % (len(self.orgs), len(self.persons), len(self.posts)),
                "",
                'timezone = "Asia/Shanghai"',
                ""]
        self.write_records(path, head, self.orgs, self.persons, self.posts)

    def write_split(self, directory, argv_summary):
        """The layout a province would keep: a small main file and one file per county (and
        per city for the city's own organs and units, and one for the province's organs)
        under conf.d/, each holding its orgs, their posts and the persons first posted there."""
        os.makedirs(os.path.join(directory, "conf.d"), exist_ok=True)
        region_of = {}
        regions = []  # in order of first appearance
        node_committees = {n["committee"] for n in self.nodes}
        for o in self.orgs:
            if o["id"] in node_committees or "parent" not in o:
                region_of[o["id"]] = o["id"]
                regions.append(o["id"])
            else:
                region_of[o["id"]] = region_of[o["parent"]]
        name_of = {o["id"]: o["name"] for o in self.orgs}
        orgs = {r: [] for r in regions}
        posts = {r: [] for r in regions}
        persons = {r: [] for r in regions}
        for o in self.orgs:
            orgs[region_of[o["id"]]].append(o)
        first_region = {}
        for p in self.posts:
            r = region_of[p["org"]]
            posts[r].append(p)
            first_region.setdefault(p["person"], r)
        for pid, name in self.persons:
            persons[first_region.get(pid, regions[0])].append((pid, name))
        with open(os.path.join(directory, "province.toml"), "w", encoding="utf-8", newline="\n") as f:
            f.write("# Generated by bench/gen_fixture.py %s --split -- fictional data, do not edit.\n"
                    "# orgs=%d persons=%d posts=%d in %d files under conf.d/\n\n"
                    'timezone = "Asia/Shanghai"\ninclude = ["conf.d/*.toml"]\n'
                    % (argv_summary, len(self.orgs), len(self.persons), len(self.posts), len(regions)))
        for i, r in enumerate(regions):
            path = os.path.join(directory, "conf.d", "%03d-%s.toml" % (i, r))
            head = ["# %s and the organisations under it (generated, fictional)." % name_of[r], ""]
            self.write_records(path, head, orgs[r], persons[r], posts[r])

    def write_records(self, path, head, orgs, persons, posts):
        q = lambda s: json.dumps(s, ensure_ascii=False)  # valid TOML basic string
        out = list(head)
        a = out.append
        for o in orgs:
            a("[[org]]")
            a("id = " + q(o["id"]))
            a("name = " + q(o["name"]))
            a("kind = " + q(o["kind"]))
            for k in ("group", "department"):
                if k in o:
                    a("%s = %s" % (k, q(o[k])))
            a("level = " + q(o["level"]))
            if "parent" in o:
                a("parent = " + q(o["parent"]))
            if "discipline_organ" in o:
                a("discipline_organ = " + q(o["discipline_organ"]))
            a("")
        for pid, name in persons:
            a("[[person]]")
            a("id = " + q(pid))
            a("name = " + q(name))
            a('email = "%s@example.gov.cn"' % pid)
            a("")
        for p in posts:
            a("[[post]]")
            a("person = " + q(p["person"]))
            a("org = " + q(p["org"]))
            a("role = " + q(p["role"]))
            a("from = " + p["from"].isoformat())
            if "until" in p:
                a("until = " + p["until"].isoformat())
            if "in_charge_of" in p:
                a("in_charge_of = [%s]" % ", ".join(q(c) for c in p["in_charge_of"]))
            a("")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(out))


# ---- verification --------------------------------------------------------------
def verify(path, want_orgs, want_posts):
    import tomllib
    problems = []
    t0 = time.time()
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    sys.stderr.write("verify: parsed %s in %.1f s\n" % (path, time.time() - t0))
    orgs, persons, posts = doc.get("org", []), doc.get("person", []), doc.get("post", [])

    def within(got, want, what):
        if want and abs(got - want) > 0.02 * want:
            problems.append("%s: %d, not within 2%% of %d" % (what, got, want))
    within(len(orgs), want_orgs, "orgs")
    within(len(posts), want_posts, "posts")
    if doc.get("timezone") != "Asia/Shanghai":
        problems.append("timezone is %r" % doc.get("timezone"))

    org_by_id = {}
    for o in orgs:
        if o["id"] in org_by_id:
            problems.append("duplicate org id %s" % o["id"])
        org_by_id[o["id"]] = o
    person_ids = set()
    for p in persons:
        if p["id"] in person_ids:
            problems.append("duplicate person id %s" % p["id"])
        person_ids.add(p["id"])
        if not p.get("name") or "@" not in p.get("email", ""):
            problems.append("person %s lacks name or email" % p["id"])
    children = {}
    for o in orgs:
        oid = o["id"]
        if o["kind"] not in KINDS or o["level"] not in LEVELS:
            problems.append("org %s: bad kind/level" % oid)
        if o["kind"] == "party-group" and o.get("group") not in PARTY_GROUPS:
            problems.append("org %s: party-group needs group" % oid)
        if o["kind"] == "leading-group" and o.get("group") not in ("inspection",
                                                                   "principal-responsibility"):
            problems.append("org %s: leading-group needs group" % oid)
        if o["kind"] == "department" and o.get("department") not in DEPARTMENTS:
            problems.append("org %s: department needs department" % oid)
        if "group" in o and o["kind"] not in ("party-group", "leading-group"):
            problems.append("org %s: group on a %s" % (oid, o["kind"]))
        if "department" in o and o["kind"] != "department":
            problems.append("org %s: department on a %s" % (oid, o["kind"]))
        if "parent" in o:
            if o["parent"] not in org_by_id:
                problems.append("org %s: unknown parent" % oid)
            else:
                children.setdefault(o["parent"], set()).add(oid)
        elif o["level"] != "province":
            problems.append("org %s: no parent" % oid)
        if "discipline_organ" in o:
            d = org_by_id.get(o["discipline_organ"])
            if d is None or d["kind"] != "discipline-inspection":
                problems.append("org %s: discipline_organ is not a discipline-inspection org" % oid)
            else:
                node = oid if o["kind"] == "party-committee" else o.get("parent")
                if d.get("parent") != node or d["level"] != o["level"]:
                    problems.append("org %s: discipline_organ %s is not at the same node"
                                    % (oid, d["id"]))
        if o["kind"] == "discipline-inspection" and "discipline_organ" in o:
            problems.append("org %s: discipline organ has a discipline_organ" % oid)
    # no parent cycles (parents are defined before children here, but check anyway)
    for o in orgs:
        seen, cur = set(), o
        while "parent" in cur and cur["parent"] in org_by_id:
            if cur["id"] in seen:
                problems.append("org %s: parent cycle" % o["id"])
                break
            seen.add(cur["id"])
            cur = org_by_id[cur["parent"]]

    by_org = {}
    posts_of_person = {}
    far = datetime.date(9999, 12, 31)
    for i, p in enumerate(posts):
        if p["person"] not in person_ids:
            problems.append("post #%d: unknown person %s" % (i, p["person"]))
        if p["org"] not in org_by_id:
            problems.append("post #%d: unknown org %s" % (i, p["org"]))
            continue
        if p["role"] not in ("principal", "member"):
            problems.append("post #%d: bad role" % i)
        if type(p["from"]) is not datetime.date or ("until" in p and type(p["until"]) is not datetime.date):
            problems.append("post #%d: from/until are not TOML dates" % i)
        if "until" in p and p["until"] < p["from"]:
            problems.append("post #%d: until before from" % i)
        if "in_charge_of" in p:
            ic = p["in_charge_of"]
            if p["role"] != "member":
                problems.append("post #%d: in_charge_of on a principal" % i)
            if org_by_id[p["org"]]["kind"] != "party-committee":
                problems.append("post #%d: in_charge_of outside a party committee" % i)
            if not 1 <= len(ic) <= 3 or len(set(ic)) != len(ic):
                problems.append("post #%d: in_charge_of has %d entries" % (i, len(ic)))
            for c in ic:
                if c not in children.get(p["org"], ()):
                    problems.append("post #%d: in_charge_of %s is not a child of %s"
                                    % (i, c, p["org"]))
        elif (p["role"] == "member" and org_by_id[p["org"]]["kind"] == "party-committee"
              and children.get(p["org"])):
            problems.append("post #%d: member of %s (which has child orgs) in charge of nothing"
                            % (i, p["org"]))
        by_org.setdefault(p["org"], []).append(p)
        posts_of_person.setdefault(p["person"], []).append(p)

    handovers = 0
    principal_posts = 0
    for oid, o in org_by_id.items():
        ps = by_org.get(oid, [])
        prin = sorted((p for p in ps if p["role"] == "principal"), key=lambda p: p["from"])
        principal_posts += len(prin)
        if not prin:
            problems.append("org %s has no principal" % oid)
            continue
        if len(prin) > 1:
            handovers += len(prin) - 1
        for a, b in zip(prin, prin[1:]):
            if "until" not in a or b["from"] != a["until"] + datetime.timedelta(days=1):
                problems.append("org %s: principal posts not consecutive (%s..%s, %s..)"
                                % (oid, a["from"], a.get("until"), b["from"]))
        if "until" in prin[-1]:
            problems.append("org %s: no current principal" % oid)
        first = prin[0]["from"]
        for p in ps:
            if p["from"] < first:
                problems.append("org %s: post of %s starts before the first principal"
                                % (oid, p["person"]))
        members = sum(1 for p in ps if p["role"] == "member")
        if o["kind"] in ("party-committee", "party-group"):
            current = sum(1 for p in ps if p["role"] == "member" and "until" not in p)
            if not 5 <= current <= 9:
                problems.append("org %s has %d current members" % (oid, current))
        elif members:
            problems.append("org %s (%s) has members" % (oid, o["kind"]))
        # a person never holds two overlapping posts in the same org
        per_person = {}
        for p in ps:
            per_person.setdefault(p["person"], []).append(p)
        for person, lst in per_person.items():
            lst.sort(key=lambda p: p["from"])
            for a, b in zip(lst, lst[1:]):
                if b["from"] <= a.get("until", far):
                    problems.append("org %s: posts of %s overlap" % (oid, person))
    multi = {k: v for k, v in posts_of_person.items() if len(v) > 1}
    for person, lst in multi.items():
        if len({p["org"] for p in lst}) != len(lst):
            problems.append("person %s holds two posts in one org" % person)
        if len(lst) > 2:
            problems.append("person %s holds %d posts" % (person, len(lst)))
    unused = person_ids - set(posts_of_person)
    if unused:
        problems.append("%d persons hold no post" % len(unused))
    share = handovers / principal_posts if principal_posts else 0
    if not 0.03 <= share <= 0.07:
        problems.append("handovers are %.1f%% of principal posts" % (100 * share))
    sys.stderr.write("verify: %d orgs, %d persons, %d posts; %d handovers (%.1f%% of principal "
                     "posts); %d persons with two posts\n"
                     % (len(orgs), len(persons), len(posts), handovers, 100 * share, len(multi)))
    for p in problems[:50]:
        sys.stderr.write("verify: %s\n" % p)
    if len(problems) > 50:
        sys.stderr.write("verify: ... %d more\n" % (len(problems) - 50))
    sys.stderr.write("verify: %s\n" % ("OK" if not problems else "%d problem(s)" % len(problems)))
    return not problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orgs", type=int, default=20000, help="number of orgs (default 20000)")
    ap.add_argument("--posts", type=int, default=150000, help="approximate number of posts "
                    "(default 150000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("-o", "--output", required=True, help="TOML file to write (with --split: "
                    "the folder to write province.toml and conf.d/ into)")
    ap.add_argument("--split", action="store_true", help="one file per county/city under conf.d/")
    ap.add_argument("--verify", action="store_true", help="re-read the output and check it")
    args = ap.parse_args()
    if args.posts < args.orgs:
        ap.error("--posts must be at least --orgs (every org has a principal)")
    t0 = time.time()
    gen = Generator(args.orgs, args.posts, args.seed)
    gen.build_orgs()
    gen.build_posts()
    summary = "--orgs %d --posts %d --seed %d" % (args.orgs, args.posts, args.seed)
    if args.split:
        gen.write_split(args.output, summary)
    else:
        gen.write(args.output, summary)
    sys.stderr.write("gen_fixture: %s: orgs %d, persons %d, posts %d (%.1f s)\n"
                     % (args.output, len(gen.orgs), len(gen.persons), len(gen.posts),
                        time.time() - t0))
    if args.verify and args.split:
        ap.error("--verify reads a single file; generate without --split to verify")
    if args.verify and not verify(args.output, args.orgs, args.posts):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
