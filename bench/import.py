"""CSV import: dry run and import of a generated file, with peak memory.

    .venv/bin/python bench/import.py [--rows N] [--db URL] [--keep] [--kind purchases] [--quick]

Writes a Russian-Excel-style CSV (Windows-1251, ';', Russian headers; names, e-mails,
phones, companies, birth dates, tags; 1% bad rows) to a temporary folder, then in a fresh
database (a temporary SQLite file unless --db is given) times: the dry run, the import,
the duplicate finder's pass over the imported contacts that follows it (the same job, after
the report is ready), and a second dry run of the same file (all unchanged). Prints
figures; never fails on them. The file's 100 names in 5 cities are a worst case for the
finder: every name-and-city block fills up to its cap.
Targets: 100,000 rows import < 20 s, dry run < 10 s; 1,000,000 rows peak memory < 300 MB.

--kind purchases: imports rows // 5 contacts first (untimed), then times a purchases file
of --rows rows (Windows-1251, ';', "1 234,50", dd.mm.yyyy; contacts by e-mail or phone,
1% not found), and the second dry run of it (all already imported).
"""

import argparse
import os
import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

FIRST = "Иван Пётр Мария Анна Сергей Ольга Алексей Елена Дмитрий Наталья".split()
LAST = "Иванов Петров Сидоров Смирнов Кузнецов Попов Соколов Лебедев Козлов Новиков".split()
COMPANIES = ["ООО Ромашка", "АО Север", "ИП Волков", "ПАО Гранит", "ООО Вектор", "Acme Ltd"]
CITIES = ["Москва", "Казань", "Тверь", "Новосибирск", "Санкт-Петербург"]


def make_file(path: Path, rows: int, seed: int = 1) -> None:
    r = random.Random(seed)
    with open(path, "w", encoding="cp1251", newline="") as f:
        f.write("Фамилия;Имя;Телефон;Почта;Компания;Должность;Город;Дата рождения;Теги\r\n")
        for i in range(rows):
            phone = f"+7 9{i * 7919 % 1_000_000_000:09d}"  # mobile numbers, nearly all valid
            email = f"user{i}@example{i % 50}.ru"
            born = f"{r.randrange(1, 28):02d}.{r.randrange(1, 13):02d}.{r.randrange(1950, 2005)}"
            if i % 100 == 99:
                email = f"user{i}@@bad"  # 1% rejected rows
            tags = "VIP, опт" if i % 7 == 0 else ""
            f.write(
                f"{r.choice(LAST)};{r.choice(FIRST)};{phone};{email};{r.choice(COMPANIES)};"
                f"Менеджер;{r.choice(CITIES)};{born};{tags}\r\n"
            )


def make_purchases_file(path: Path, rows: int, contacts: int, seed: int = 2) -> None:
    r = random.Random(seed)
    items = ["Чайник", "Кофе 1 кг", "Фильтр", "Кружка", "Набор чая"]
    with open(path, "w", encoding="cp1251", newline="") as f:
        f.write("Номер заказа;Дата;Почта;Телефон;Товар;Сумма\r\n")
        for n in range(rows):
            i = r.randrange(contacts)
            # Half by e-mail, half by phone (as make_file wrote them).
            email = f"user{i}@example{i % 50}.ru" if n % 2 else ""
            phone = "" if n % 2 else f"+7 9{i * 7919 % 1_000_000_000:09d}"
            day = f"{r.randrange(1, 28):02d}.{r.randrange(1, 13):02d}.{r.randrange(2019, 2026)}"
            amount = f"{r.randrange(100, 200_000):,}".replace(",", "\xa0") + f",{n % 100:02d}"
            f.write(f"N-{n};{day};{email};{phone};{r.choice(items)};{amount}\r\n")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class HelperPeak(threading.Thread):
    """The peak memory of the helper process that reads the file during the import, from
    its VmHWM. (getrusage's figure for children counts the copy of this process that exists
    between fork and exec, so it reports this process's size, not the helper's.)"""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peaks: dict[int, int] = {}

    def run(self) -> None:
        me = os.getpid()
        while True:
            for task in Path(f"/proc/{me}/task").iterdir():
                for pid in (task / "children").read_text().split():
                    self._sample(int(pid))
            time.sleep(0.2)

    def _sample(self, pid: int) -> None:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # gone already
            return
        if b"spawn_main" not in cmdline:
            return
        kb = int(status.split("VmHWM:")[1].split()[0])
        self.peaks[pid] = max(kb, self.peaks.get(pid, 0))

    def mb(self) -> float:
        return max(self.peaks.values(), default=0) / 1024


HELPER_PEAK = HelperPeak()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--kind", choices=("contacts", "purchases"), default="contacts")
    parser.add_argument(
        "--quick", action="store_true", help="the dry run and the import only (memory runs)"
    )
    args = parser.parse_args()
    HELPER_PEAK.start()

    tmp = Path(tempfile.mkdtemp(prefix="crmlite-bench-import-"))
    os.environ["CRMLITE_INSTANCE_PATH"] = str(tmp / "instance")
    os.environ["CRMLITE_DATABASE_URL"] = args.db or "sqlite:///" + str(tmp / "bench.db")

    from flask_migrate import upgrade
    from sqlalchemy import text

    from crmlite.app import create_app
    from crmlite.core import importing
    from crmlite.extensions import db
    from crmlite.models import Import

    csv_path = tmp / "contacts.csv"
    started = time.perf_counter()
    purchases = args.kind == "purchases"
    contacts = max(args.rows // 5, 1) if purchases else args.rows
    make_file(csv_path, contacts)
    if purchases:
        contacts_path = csv_path
        csv_path = tmp / "purchases.csv"
        make_purchases_file(csv_path, args.rows, contacts)
    size_mb = csv_path.stat().st_size / 2**20
    print(
        f"file: {args.rows:,} rows, {size_mb:.1f} MB, made in {time.perf_counter() - started:.1f} s"
    )

    app = create_app()
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        pm = app.extensions["crmlite.plugins"]
        print(f"database: {db.engine.dialect.name}; memory after start: {peak_mb():.0f} MB")
        kind = {}
        if purchases:
            kind = {"kind": "purchases"}
            imp = importing.create_import(db.session, pm, str(contacts_path), "c.csv", None)
            db.session.commit()
            importing.dry_run(db.session, pm, imp)
            db.session.commit()
            importing.run(db.session, pm, imp.id, None)
            print(f"{contacts:,} contacts imported first (not timed)")

        imp = importing.create_import(db.session, pm, str(csv_path), csv_path.name, None, **kind)
        db.session.commit()
        started, cpu = time.perf_counter(), time.process_time()
        preview = importing.dry_run(db.session, pm, imp)
        db.session.commit()
        dry = time.perf_counter() - started
        print(
            f"dry run:  {dry:6.1f} s  (CPU {time.process_time() - cpu:5.1f} s)  "
            f"{args.rows / dry:8,.0f} rows/s  {preview['counts']}"
        )

        started, cpu = time.perf_counter(), time.process_time()
        counts = importing.run(db.session, pm, imp.id, None)
        run = time.perf_counter() - started
        print(
            f"import:   {run:6.1f} s  (CPU {time.process_time() - cpu:5.1f} s)  "
            f"{args.rows / run:8,.0f} rows/s  {counts}"
        )

        if args.quick:
            pass
        elif not purchases:
            started, cpu = time.perf_counter(), time.process_time()
            checked = importing.check_duplicates(db.session, pm, imp.id)
            check = time.perf_counter() - started
            print(
                f"then the duplicate finder over them: {check:6.1f} s  "
                f"(CPU {time.process_time() - cpu:5.1f} s)  {checked:,} contacts checked"
            )

        if args.quick:
            return _report(args, tmp)
        imp2 = importing.create_import(db.session, pm, str(csv_path), csv_path.name, None, **kind)
        db.session.commit()
        started = time.perf_counter()
        preview = importing.dry_run(db.session, pm, db.session.get(Import, imp2.id))
        again = time.perf_counter() - started
        print(f"dry run of the same file again: {again:6.1f} s  {preview['counts']}")
    _report(args, tmp)


def _report(args, tmp: Path) -> None:
    print(
        f"peak memory (max RSS): {peak_mb():.0f} MB; the helper process that reads the file "
        f"during the import: {HELPER_PEAK.mb():.0f} MB"
    )
    print("targets at 100,000 rows: import < 20 s, dry run < 10 s; 1M rows < 300 MB")
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept {tmp}")


if __name__ == "__main__":
    main()
