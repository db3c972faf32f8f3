"""The duplicate finder at work: full scan, rescans, incremental checks on save, import and
archive, the create form's warning, the background job and the register_matchers hook."""

from sqlalchemy import func, select

from crmlite.core import contacts as core
from crmlite.core import dedup
from crmlite.core.dedup import Evidence
from crmlite.core.dedup_reasons import describe_all
from crmlite.extensions import db
from crmlite.jobs import enqueue
from crmlite.models import Contact, DuplicatePair, Job, MatchKey


def add(**raw) -> int:
    for key in ("emails", "phones"):
        if key in raw:
            raw[key] = [{"value": v} for v in raw[key]]
    return core.create_contact(db.session, core.validate(raw), None).id


def pair_of(a: int, b: int) -> DuplicatePair | None:
    lo, hi = min(a, b), max(a, b)
    return db.session.scalar(
        select(DuplicatePair).where(
            DuplicatePair.contact_a_id == lo, DuplicatePair.contact_b_id == hi
        )
    )


def open_pairs() -> int:
    return db.session.scalar(
        select(func.count()).select_from(DuplicatePair).where(DuplicatePair.status == "open")
    )


def test_scan_finds_pairs_and_counts_them(ctx):
    a = add(first_name="Иван", last_name="Петров", emails=["ivan.petrov@gmail.com"])
    b = add(first_name="Ivan", last_name="Petrov", emails=["ivanpetrov@gmail.com"])
    add(first_name="Анна", last_name="Смирнова", emails=["anna@mail.ru"])
    db.session.commit()
    result = dedup.scan(db.session)
    assert result["contacts"] == 3 and result["pairs"] == 1 and result["new"] == 0
    # The pair was already found when b was saved; the scan finds it again and keeps it.
    assert pair_of(a, b).status == "open" and open_pairs() == 1
    again = dedup.scan(db.session)
    assert again["new"] == again["removed"] == again["updated"] == 0 and open_pairs() == 1


def test_rescan_never_proposes_a_dismissed_pair(ctx):
    a = add(first_name="Ольга", last_name="Ким", phones=["+79123456789"])
    b = add(first_name="Olga", last_name="Kim", phones=["+79123456789"])
    db.session.commit()
    dedup.scan(db.session)
    pair = pair_of(a, b)
    pair.status = "dismissed"
    db.session.commit()
    result = dedup.scan(db.session)
    assert result["new"] == 0 and open_pairs() == 0
    assert pair_of(a, b).status == "dismissed"
    # Saving one of them again does not bring the pair back either.
    contact = db.session.get(Contact, b)
    core.update_contact(db.session, contact, core.validate({"city": "Казань"}), None)
    db.session.commit()
    assert pair_of(a, b).status == "dismissed" and open_pairs() == 0


def test_check_on_save_finds_the_new_duplicate(app, editor_client):
    with app.app_context():
        first = add(first_name="Мария", last_name="Соколова", emails=["m.sokolova@gmail.com"])
        db.session.commit()
    resp = editor_client.post(
        "/contacts/new",
        data={
            "first_name": "Maria",
            "last_name": "Sokolova",
            "emails-0-value": "msokolova+shop@gmail.com",
            "emails-0-label": "personal",
            "emails-primary": "0",
        },
    )
    assert resp.status_code == 302  # the duplicate never blocks saving
    with app.app_context():
        second = db.session.scalar(select(Contact.id).where(Contact.first_name == "Maria"))
        pair = pair_of(first, second)
        assert pair is not None and pair.status == "open"
        assert "same e-mail m.sokolova@gmail.com" in describe_all(pair.reasons)


def test_a_change_that_removes_the_evidence_drops_the_open_pair(ctx):
    a = add(first_name="Павел", last_name="Орлов", phones=["+79161112233"])
    b = add(first_name="Pavel", last_name="Orlov", phones=["+79161112233"])
    db.session.commit()
    assert pair_of(a, b) is not None
    contact = db.session.get(Contact, b)
    core.update_contact(
        db.session, contact, core.validate({"phones": [{"value": "+79160000000"}]}), None
    )
    db.session.commit()
    assert pair_of(a, b) is None


def test_archiving_drops_the_pair_and_restoring_brings_it_back(ctx):
    a = add(first_name="Игорь", last_name="Волков", emails=["volkov@ya.ru"])
    b = add(first_name="Igor", last_name="Volkov", emails=["volkov@ya.ru"])
    db.session.commit()
    contact = db.session.get(Contact, a)
    core.set_archived(db.session, contact, True, None)
    db.session.commit()
    assert pair_of(a, b) is None
    assert not db.session.scalars(select(MatchKey).where(MatchKey.contact_id == a)).all()
    core.set_archived(db.session, db.session.get(Contact, a), False, None)
    db.session.commit()
    assert pair_of(a, b) is not None


def test_an_import_batch_is_checked(app, ctx, users, tmp_path):
    a = add(first_name="Светлана", last_name="Зайцева", birth_date="1988-04-05", city="Пермь")
    db.session.commit()
    src = tmp_path / "people.csv"
    src.write_text(
        "first_name,last_name,birth_date,city\n"
        "Svetlana,Zaitseva,1988-04-05,Perm\nБорис,Гусев,,Пермь\n",
        "utf-8",
    )
    result = app.test_cli_runner().invoke(args=["import", str(src)])
    assert result.exit_code == 0, result.output
    db.session.remove()
    b = db.session.scalar(select(Contact.id).where(Contact.first_name == "Svetlana"))
    assert b is not None and b != a
    pair = pair_of(a, b)
    assert pair is not None, "the import batch was not checked"
    text = describe_all(pair.reasons)
    assert "names match after transliteration" in text and "same birth date 1988-04-05" in text
    keys = db.session.scalars(select(MatchKey.key).where(MatchKey.contact_id == b)).all()
    assert any(k.startswith("b:1988-04-05|") for k in keys)  # the batch wrote b's keys


def test_a_key_held_by_many_contacts_makes_no_pairs_by_itself(ctx):
    office = "+74950001122"
    ids = [
        add(first_name="Сотрудник", last_name=f"Номер{i}", phones=[office])
        for i in range(dedup.BLOCK_CAP + 5)
    ]
    db.session.commit()
    result = dedup.scan(db.session)
    assert result["skipped_blocks"] >= 1 and result["pairs"] == 0
    # Two of them who also share a personal e-mail and a name are still found.
    x = add(first_name="Анна", last_name="Белова", phones=[office], emails=["belova@ya.ru"])
    y = add(first_name="Anna", last_name="Belova", phones=[office], emails=["belova@ya.ru"])
    db.session.commit()
    result = dedup.scan(db.session)
    assert result["pairs"] == 1 and pair_of(x, y) is not None
    assert pair_of(ids[0], ids[1]) is None


def test_scan_job_runs_with_progress(app, users):
    with app.app_context():
        a = add(first_name="Нина", last_name="Орлова", emails=["nina@orlova.ru"])
        b = add(first_name="Nina", last_name="Orlova", emails=["nina@orlova.ru"])
        db.session.execute(DuplicatePair.__table__.delete())  # as before the finder existed
        db.session.commit()
        job = enqueue("dedup_scan", {}, users["editor"])
        job_id = job.id
        db.session.remove()
        job = db.session.get(Job, job_id)
        assert job.status == "done", job.error
        assert job.done == job.total == 4 and job.result["pairs"] == 1
        assert pair_of(a, b) is not None


# -- the create form's warning ---------------------------------------------------------------


def test_new_contact_form_warns_of_a_possible_duplicate(app, editor_client):
    with app.app_context():
        existing = add(first_name="Александр", last_name="Орлов", phones=["+79161112233"])
        db.session.commit()
    page = editor_client.get("/contacts/new").get_data(as_text=True)
    assert 'hx-post="/contacts/new/duplicates"' in page
    resp = editor_client.post(
        "/contacts/new/duplicates",
        data={
            "first_name": "Саша",
            "last_name": "Orlov",
            "phones-0-value": "8 916 111-22-33",
            "emails-0-value": "not an e-mail yet",
        },
        headers={"HX-Request": "true"},
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Possible duplicate of" in html
    assert f'href="/contacts/{existing}"' in html and "Орлов Александр" in html
    assert "same phone +7 916 111-22-33" in html
    with app.app_context():  # nothing saved
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 1
        assert db.session.scalar(select(func.count()).select_from(MatchKey)) > 0
        assert open_pairs() == 0
    # A stranger: no warning.
    resp = editor_client.post(
        "/contacts/new/duplicates", data={"first_name": "Борис", "last_name": "Гусев"}
    )
    assert "Possible duplicate" not in resp.get_data(as_text=True)


def test_the_warning_is_for_editors_only(app, viewer_client, client, users):
    data = {"first_name": "Саша", "last_name": "Орлов"}
    assert viewer_client.post("/contacts/new/duplicates", data=data).status_code == 403
    resp = client.post("/contacts/new/duplicates", data=data)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


# -- the plugin hook ---------------------------------------------------------------------------


class SameNotesMatcher:
    """Test-only: contacts whose company is the same customer number are one person."""

    name = "customer_number"

    def blocking_keys(self, contact):
        return [f"cn:{contact.company}"] if contact.company.startswith("CN-") else []

    def compare(self, a, b):
        if a.company.startswith("CN-") and a.company == b.company:
            return Evidence(70, [{"code": "same_customer_number", "text": "same customer no."}])
        return None


class _Plugin:
    from crmlite import hookimpl

    @hookimpl
    def register_matchers(self):
        return [SameNotesMatcher()]


def test_hook_register_matchers(app, ctx):
    a = add(first_name="Вера", last_name="Лосева", company="CN-1042")
    b = add(first_name="Vera", last_name="Loseva", company="CN-1042")
    db.session.commit()
    pm = app.extensions["crmlite.plugins"]
    assert dedup.scan(db.session, pm=pm)["pairs"] == 0  # without the plugin: no pair
    plugin = _Plugin()
    pm.register(plugin, name="test-matcher-plugin")
    try:
        assert "customer_number" in [m.name for m in dedup.matchers(pm)]
        assert "name" in [m.name for m in dedup.matchers(pm)]  # the builtins stay
        result = dedup.scan(db.session, pm=pm)
    finally:
        pm.unregister(plugin)
    assert result["pairs"] == 1
    pair = pair_of(a, b)
    assert pair.score >= 60 and "same customer no." in describe_all(pair.reasons)


def test_three_records_of_one_person_are_all_paired(ctx):
    # a and b share an e-mail, b and c a phone; a and c only a name: linked through b.
    a = add(first_name="Любовь", last_name="Афанасьева", emails=["lyuba@ya.ru"], city="Сочи")
    b = add(
        first_name="Люба",
        last_name="Афанасьева",
        emails=["lyuba@yandex.ru"],
        phones=["+79603294893"],
    )
    c = add(first_name="Lyubov", last_name="Afanaseva", phones=["89603294893"], city="Sochi")
    stranger = add(first_name="Борис", last_name="Афанасьев", phones=["+79603294893"])
    db.session.commit()
    result = dedup.scan(db.session)
    assert result["linked"] == 1
    assert pair_of(a, b) and pair_of(b, c)
    linked = pair_of(a, c)
    assert linked is not None
    assert "both match Афанасьева Люба" in describe_all(linked.reasons)
    assert linked.score == min(pair_of(a, b).score, pair_of(b, c).score)
    assert not any(pair_of(stranger, x) for x in (a, b, c))
    # Saving a again keeps the linked pair (the next full scan decides about it).
    core.update_contact(db.session, db.session.get(Contact, a), core.validate({"notes": "x"}), None)
    core.update_contact(
        db.session, db.session.get(Contact, a), core.validate({"city": "Адлер"}), None
    )
    db.session.commit()
    assert pair_of(a, c) is not None


def test_an_import_from_the_web_is_checked_after_its_rows_are_in(app, editor_client):
    """The import job writes the rows, then runs the finder over them: the pair is listed."""
    import io

    with app.app_context():
        a = add(first_name="Светлана", last_name="Зайцева", birth_date="1988-04-05", city="Пермь")
        db.session.commit()
    text = "first_name,last_name,birth_date,city\nSvetlana,Zaitseva,1988-04-05,Perm\n"
    data = {"file": (io.BytesIO(text.encode()), "people.csv")}
    resp = editor_client.post("/imports/", data=data, content_type="multipart/form-data")
    show_url = resp.headers["Location"].removesuffix("/mapping")
    editor_client.post(
        resp.headers["Location"],
        data={"col0": "first_name", "col1": "last_name", "col2": "birth_date", "col3": "city"},
    )
    assert editor_client.post(f"{show_url}/run").status_code == 302
    assert "created: 1" in editor_client.get(show_url).get_data(as_text=True)
    with app.app_context():
        b = db.session.scalar(select(Contact.id).where(Contact.first_name == "Svetlana"))
        assert pair_of(a, b) is not None, "the imported contact was not checked"
    assert "Zaitseva" in editor_client.get("/duplicates/").get_data(as_text=True)
