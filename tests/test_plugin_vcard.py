"""The crmlite-vcard plugin (plugins/crmlite-vcard): vCard files from real phones and mail
programs become contact drafts that pass validation; contacts export as vCard 3.0 and read
back the same. The files are written here by hand, byte for byte as those programs write them."""

import io

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crmlite.core import tags as tag_core
from crmlite.core.contacts import create_contact, validate
from crmlite.extensions import db
from crmlite.models import Contact
from crmlite.plugins import make_plugin_manager


def qp(text: str) -> str:
    """Quoted-printable of UTF-8 text, every byte encoded, as Android writes it."""
    return "".join(f"={b:02X}" for b in text.encode("utf-8"))


def crlf(text: str, encoding: str = "ascii") -> bytes:
    return text.replace("\n", "\r\n").encode(encoding)


def parse(data, **options):
    from crmlite_vcard import VCardImporter

    stream = io.BytesIO(data) if isinstance(data, bytes) else io.StringIO(data)
    return list(VCardImporter().parse(stream, options))


def importer_of(pm, name):
    found = [imp for batch in pm.hook.register_importers() for imp in batch if imp.name == name]
    assert len(found) == 1
    return found[0]


# Android's contacts app: 2.1, quoted-printable UTF-8 with soft line breaks, CRLF, a photo.
ANDROID = crlf(
    "BEGIN:VCARD\n"
    "VERSION:2.1\n"
    f"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:{qp('Иванов')};{qp('Иван')};{qp('Петро')}=\n"
    f"{qp('вич')};;\n"
    f"FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:{qp('Иван Петрович Иванов')}\n"
    "TEL;CELL;PREF:+7 916 123-45-67\n"
    "TEL;HOME:8 (495) 123-45-67\n"
    "EMAIL;HOME:ivan@example.ru\n"
    f"ORG;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:{qp('ООО «Ромашка»')}\n"
    "PHOTO;ENCODING=BASE64;JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQE\n"
    " CAgICAgQDAgICAgUEBAMEBgUGBgYFBgYGBwkIBgcJBwYGCAsICQoKCgoKBggLDAsKDAkKCgr/\n"
    " l2S9ByOKYLrys+SP0p+0iPnP/2Q==\n"
    "\n"
    "CATEGORIES:My Contacts\n"
    "END:VCARD\n"
    "BEGIN:VCARD\n"
    "VERSION:2.1\n"
    f"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:{qp('Смирнова')};{qp('Анна')};;;\n"
    "TEL;CELL:+79031234567\n"
    f"NOTE;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:{qp('Звонить')}=0D=0A{qp('после 18:00')}\n"
    "END:VCARD\n"
)

# iPhone (iOS): 3.0 with itemN. labels and type=pref.
IPHONE = crlf(
    "BEGIN:VCARD\n"
    "VERSION:3.0\n"
    "PRODID:-//Apple Inc.//iOS 5.0.1//EN\n"
    "N:Doe;John;Richter;Mr.;Sr.\n"
    "FN:Mr. John Richter Doe Sr.\n"
    "ORG:IBM;Accounting;\n"
    "TITLE:Money Counter\n"
    "item1.EMAIL;type=INTERNET;type=pref:john.doe@ibm.com\n"
    "item1.X-ABLabel:_$!<Other>!$_\n"
    "item2.EMAIL;type=INTERNET:jdoe@school.edu\n"
    "item2.X-ABLabel:School\n"
    "EMAIL;type=INTERNET;type=WORK:john@work.example.com\n"
    "TEL;type=CELL;type=VOICE;type=pref:+1 212 555 0101\n"
    "TEL;type=HOME;type=VOICE:+1 (212) 555-0102\n"
    "item3.TEL:+1 212 555 0103\n"
    "item3.X-ABLabel:_$!<Work>!$_\n"
    "item4.ADR;type=HOME;type=pref:;;Silicon Alley 5;New York;NY;12345;United States\n"
    "item4.X-ABADR:us\n"
    "NOTE:Likes golf\\nCall on Fridays\n"
    "BDAY;value=date:1980-03-22\n"
    "UID:6B29A0AE-3B2E-4FBA-9A4F-2C9C1D0C1A11\n"
    "CATEGORIES:VIP,Golf\n"
    "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/4QBYRXhpZgAATU0AKgAAAAgAAgE\n"
    " SAAMAAAABAAEAAIdpAAQAAAABAAAAJgAAAAAAA6ABAAMAAAABAAEAAKACAAQAAAABAAAAZKADAAQ\n"
    "END:VCARD\n"
)

# Outlook 2007: 2.1, a quoted-printable note without a charset, YYYYMMDD birthday; a Russian
# Windows writes the address as plain 8-bit cp1251.
OUTLOOK = crlf(
    "BEGIN:VCARD\n"
    "VERSION:2.1\n"
    "N;LANGUAGE=en-us:Angstadt;Michael;;Mr.;Jr.\n"
    "FN:Mr. Michael Angstadt Jr.\n"
    "ORG:TheCompany;TheDepartment\n"
    "TITLE:TheJobTitle\n"
    "NOTE;ENCODING=QUOTED-PRINTABLE:This is the NOTE field=0D=0AI assume it encodes this =\n"
    "text inside a NOTE property.\n"
    "TEL;WORK;VOICE:+7 (812) 555-11-11\n"
    "TEL;WORK;FAX:+7 (812) 555-33-33\n"
    "ADR;WORK;PREF:;TheOffice;222 Broadway;Санкт-Петербург;;99999;Россия\n"
    "EMAIL;PREF;INTERNET:mike.angstadt@example.com\n"
    "BDAY:19220310\n"
    "REV:20120305T131046Z\n"
    "END:VCARD\n",
    "cp1251",
)

# vCard 4.0 in the FullContact style.
V40 = crlf(
    "BEGIN:VCARD\n"
    "VERSION:4.0\n"
    "N:Lastname;Firstname;;;\n"
    "FN:Firstname Lastname\n"
    "TEL;VALUE=uri;TYPE=work,voice;PREF=1:tel:+7-916-765-43-21\n"
    "TEL;TYPE=home,fax:+7 495 765-43-22\n"
    "EMAIL;TYPE=home:home@example.com\n"
    "EMAIL;TYPE=work;PREF=1:work@example.com\n"
    "BDAY:--0415\n"
    "GENDER:F\n"
    "CATEGORIES:Partners\n"
    "UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\n"
    "END:VCARD\n"
)


@pytest.fixture(scope="module")
def pm():
    return make_plugin_manager()


def test_plugin_is_installed_with_pip_and_registers_its_hooks(pm):
    info = next(i for i in pm.crmlite_infos if i.name == "vcard")
    assert info.source == "pip"
    assert info.version == "0.1.0"
    assert {"register_importers", "register_exporters", "detect_importer"} <= set(info.hooks)
    importer = importer_of(pm, "vcard")
    assert importer.extensions == [".vcf", ".vcard"]
    exporter = next(e for batch in pm.hook.register_exporters() for e in batch if e.name == "vcard")
    assert (exporter.extension, exporter.mimetype) == (".vcf", "text/vcard")


def test_android_21_quoted_printable_cyrillic(pm):
    drafts = list(importer_of(pm, "vcard").parse(io.BytesIO(ANDROID), {}))
    assert [d["_card"] for d in drafts] == [1, 2]
    ivan, anna = drafts
    assert (ivan["last_name"], ivan["first_name"], ivan["middle_name"]) == (
        "Иванов",
        "Иван",
        "Петрович",  # split across a soft line break
    )
    assert ivan["company"] == "ООО «Ромашка»"
    assert ivan["phones"] == [
        {"value": "+7 916 123-45-67", "label": "mobile", "primary": True},
        {"value": "8 (495) 123-45-67", "label": "home"},
    ]
    assert ivan["emails"] == [{"value": "ivan@example.ru", "label": "personal"}]
    assert ivan["tags"] == ["My Contacts"]  # the photo before it was skipped whole
    assert (anna["last_name"], anna["first_name"]) == ("Смирнова", "Анна")
    assert anna["notes"] == "Звонить\nпосле 18:00"
    for draft in drafts:
        clean = validate(draft)
        assert clean["phones"][0].value.startswith("+79")
    assert validate(ivan)["phones"][1].value == "+74951234567"


def test_iphone_30_item_labels_and_every_field():
    (john,) = parse(IPHONE)
    assert (john["first_name"], john["middle_name"], john["last_name"]) == (
        "John",
        "Richter",
        "Doe",
    )
    assert john["company"] == "IBM"
    assert john["position"] == "Money Counter"
    assert john["emails"] == [
        {"value": "john.doe@ibm.com", "label": "other", "primary": True},
        {"value": "jdoe@school.edu", "label": "school"},
        {"value": "john@work.example.com", "label": "work"},
    ]
    assert john["phones"] == [
        {"value": "+1 212 555 0101", "label": "mobile", "primary": True},
        {"value": "+1 (212) 555-0102", "label": "home"},
        {"value": "+1 212 555 0103", "label": "work"},
    ]
    assert john["address"] == "Silicon Alley 5, NY, 12345"
    assert (john["city"], john["country"]) == ("New York", "United States")
    assert john["notes"] == "Likes golf\nCall on Fridays"
    assert john["birth_date"] == "1980-03-22"
    assert john["external_id"] == "6B29A0AE-3B2E-4FBA-9A4F-2C9C1D0C1A11"
    assert john["tags"] == ["VIP", "Golf"]
    clean = validate(john)
    assert [p.value for p in clean["phones"]] == ["+12125550101", "+12125550102", "+12125550103"]
    assert clean["birth_date"].isoformat() == "1980-03-22"


def test_outlook_21_with_quoted_printable_note_and_compact_birthday():
    (mike,) = parse(OUTLOOK)
    assert (mike["first_name"], mike["last_name"]) == ("Michael", "Angstadt")
    assert mike["company"] == "TheCompany"
    assert mike["notes"] == (
        "This is the NOTE field\nI assume it encodes this text inside a NOTE property."
    )
    assert mike["phones"] == [
        {"value": "+7 (812) 555-11-11", "label": "work"},
        {"value": "+7 (812) 555-33-33", "label": "other"},  # a fax
    ]
    assert mike["emails"] == [
        {"value": "mike.angstadt@example.com", "primary": True}  # no type: crmlite's default
    ]
    assert mike["birth_date"] == "1922-03-10"
    assert (mike["city"], mike["country"]) == ("Санкт-Петербург", "Россия")
    assert validate(mike)["emails"][0].label == "work"


def test_vcard_40_types_pref_uri_and_birthday_without_year():
    (card,) = parse(V40)
    assert card["phones"] == [
        {"value": "+7-916-765-43-21", "label": "work", "primary": True},
        {"value": "+7 495 765-43-22", "label": "other"},
    ]
    assert card["emails"] == [
        {"value": "home@example.com", "label": "personal"},
        {"value": "work@example.com", "label": "work", "primary": True},
    ]
    assert "birth_date" not in card  # --MMDD has no year: not a birth date
    assert card["gender"] == "female"
    assert card["tags"] == ["Partners"]
    assert card["external_id"] == "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1"
    clean = validate(card)
    assert clean["emails"][0].value == "work@example.com"  # the PREF one comes first


def test_utf16_files_with_and_without_bom_and_a_text_stream():
    text = IPHONE.decode("ascii").replace("Doe;John", "Кузнецов;Олег")
    for data in (
        text.encode("utf-16"),  # BOM, little endian
        text.encode("utf-16-be"),  # no BOM, as macOS Address Book wrote it
        b"\xef\xbb\xbf" + text.encode("utf-8"),
        text.replace("\r\n", "\n").encode("utf-8"),  # LF line ends
    ):
        (card,) = parse(data)
        assert (card["last_name"], card["first_name"]) == ("Кузнецов", "Олег")
        assert len(card["phones"]) == 3
    (card,) = parse(text)  # a str stream is read as it is
    assert card["last_name"] == "Кузнецов"


def test_8bit_files_and_quoted_printable_without_charset_fall_back_to_cp1251():
    # The Bat! style: quoted-printable bytes with no CHARSET, here Windows-1251 Cyrillic.
    qp_1251 = "".join(f"={b:02X}" for b in "Петров".encode("cp1251"))
    bat = crlf(
        "BEGIN:VCARD\nVERSION:2.1\n"
        f"N;ENCODING=QUOTED-PRINTABLE:{qp_1251};Pavel\n"
        "EMAIL;PREF;INTERNET:pavel@example.ru\nEND:VCARD\n"
    )
    (card,) = parse(bat)
    assert (card["last_name"], card["first_name"]) == ("Петров", "Pavel")
    # A whole file in cp1251 with plain 8-bit text.
    raw = "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Сидоров;Пётр\r\nEND:VCARD\r\n".encode("cp1251")
    (card,) = parse(raw)
    assert (card["last_name"], card["first_name"]) == ("Сидоров", "Пётр")
    # The caller may name the encoding when the fallback guesses wrong.
    latin2 = crlf(
        "BEGIN:VCARD\nVERSION:2.1\nN;ENCODING=QUOTED-PRINTABLE:Iksi=F1ski;Piotr\nEND:VCARD\n"
    )
    assert parse(latin2, encoding="iso-8859-2")[0]["last_name"] == "Iksiński"


def test_a_broken_card_is_reported_and_the_others_still_read():
    broken = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Good;One\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Bad;Date\r\nBDAY:31.02.1990\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Acme Ltd\r\nORG:Acme Ltd\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Cut;Short\r\n"
    )
    good, bad_date, empty, company, cut = parse(broken)
    assert good["last_name"] == "Good"
    assert bad_date["birth_date"] == "31.02.1990"
    with pytest.raises(ValueError, match="31.02.1990"):
        validate(bad_date)  # the impossible date is explained, not dropped
    assert "_error" in empty and "3" in empty["_error"]
    assert company == {"company": "Acme Ltd", "_card": 4, "_line": 13}  # no person's name
    assert cut["last_name"] == "Cut"


def test_detect_importer(pm):
    def detect(name, sample):
        return pm.hook.detect_importer(filename=name, sample=sample)

    assert detect("contacts.VCF", b"") == "vcard"
    assert detect("upload.bin", b"\xef\xbb\xbf\r\n  BEGIN:VCARD\r\nVERSION:2.1") == "vcard"
    assert detect("upload.bin", "BEGIN:VCARD\r\n".encode("utf-16")) == "vcard"
    assert detect("upload.bin", "begin:vcard\r\n".encode("utf-16-be")) == "vcard"
    assert detect("contacts.csv", b"Name,E-mail\r\nAnna,anna@example.com\r\n") != "vcard"


def make_contact(session, raw, external_id=None, tags=()):
    contact = create_contact(session, validate(raw), None)
    contact.external_id = external_id
    for name in tags:
        tag_core.add_tag(session, contact, tag_core.get_or_create(session, name), None)
    return contact


def test_export_reads_back_through_the_importer(app, ctx, pm):
    session = db.session
    make_contact(
        session,
        {
            "first_name": "Ольга",
            "middle_name": "Сергеевна",
            "last_name": "Павлова; младшая",
            "company": "ООО «Вектор», филиал",
            "position": "Директор",
            "address": "ул. Ленина, д. 1",
            "city": "Казань",
            "country": "Россия",
            "birth_date": "1985-12-31",
            "gender": "female",
            "notes": "Первая строка\nВторая строка, с запятой; и точкой с запятой \\ " + "ю" * 80,
            "emails": [
                {"value": "olga@example.ru", "label": "work", "primary": True},
                {"value": "olga.home@example.ru", "label": "personal"},
                {"value": "olga@school.example", "label": "school"},
            ],
            "phones": [
                {"value": "+7 916 000-00-01", "label": "mobile"},
                {"value": "+7 843 000-00-02", "label": "work", "primary": True},
                {"value": "+7 843 000-00-03", "label": "other"},
            ],
        },
        external_id="crm-42",
        tags=["VIP", "Казань, клиенты"],
    )
    make_contact(session, {"company": "Acme"})
    session.commit()
    rows = session.scalars(
        select(Contact)
        .options(selectinload(Contact.emails), selectinload(Contact.phones))
        .options(selectinload(Contact.tags))
        .order_by(Contact.id)
    ).all()
    exporter = next(e for batch in pm.hook.register_exporters() for e in batch if e.name == "vcard")
    out = io.StringIO()
    exporter.write(rows, out)
    text = out.getvalue()
    assert text.startswith("BEGIN:VCARD\r\nVERSION:3.0\r\n")
    assert all(len(line.encode("utf-8")) <= 75 for line in text.split("\r\n"))
    binary = io.BytesIO()
    exporter.write(rows, binary, {})
    assert binary.getvalue() == text.encode("utf-8")
    assert b"".join(exporter.chunks(rows, {})) == text.encode("utf-8")

    olga, acme = parse(binary.getvalue())
    assert olga["last_name"] == "Павлова; младшая"
    assert (olga["first_name"], olga["middle_name"]) == ("Ольга", "Сергеевна")
    assert olga["company"] == "ООО «Вектор», филиал"
    assert olga["notes"] == (
        "Первая строка\nВторая строка, с запятой; и точкой с запятой \\ " + "ю" * 80
    )
    assert olga["tags"] == ["VIP", "Казань, клиенты"]
    assert olga["external_id"] == "crm-42"
    clean = validate(olga)
    assert [(e.value, e.label, e.primary) for e in clean["emails"]] == [
        ("olga@example.ru", "work", True),
        ("olga.home@example.ru", "personal", False),
        ("olga@school.example", "school", False),
    ]
    assert [(p.value, p.label, p.primary) for p in clean["phones"]] == [
        ("+78430000002", "work", True),
        ("+79160000001", "mobile", False),
        ("+78430000003", "other", False),
    ]
    assert clean["birth_date"].isoformat() == "1985-12-31"
    assert (clean["address"], clean["city"], clean["country"]) == (
        "ул. Ленина, д. 1",
        "Казань",
        "Россия",
    )
    assert clean["position"] == "Директор"
    assert clean["gender"] == "female"
    assert acme == {"company": "Acme", "_card": 2, "_line": acme["_line"]}


def test_export_of_records_as_the_export_pipeline_gives_them(pm):
    """crmlite.core.exporting hands exporters dict records, not Contact objects."""
    exporter = next(e for batch in pm.hook.register_exporters() for e in batch if e.name == "vcard")
    record = {
        "id": 7,
        "first_name": "Пётр",
        "last_name": "Сидоров",
        "middle_name": "",
        "company": "",
        "position": "",
        "address": "",
        "city": "",
        "country": "",
        "birth_date": None,
        "gender": None,
        "notes": "",
        "external_id": "",
        "owner": "",
        "custom": {},
        "emails": [{"value": "petr@example.ru", "label": "personal", "primary": True}],
        "phones": [{"value": "+79161112233", "label": "mobile", "primary": True}],
        "tags": [],
    }
    data = b"".join(exporter.chunks(iter([record, {**record, "id": 8}]), {}))
    first, second = parse(data)
    assert (first["last_name"], first["first_name"]) == ("Сидоров", "Пётр")
    assert first["emails"] == [{"value": "petr@example.ru", "label": "personal", "primary": True}]
    assert first["phones"] == [{"value": "+79161112233", "label": "mobile", "primary": True}]
    assert "external_id" not in first and "birth_date" not in first
    assert second["_card"] == 2


def test_import_pipeline_reads_a_phone_export_and_its_own_export_back(app, ctx, tmp_path):
    """Through crmlite's import and export: a vCard file is detected, imported, exported as
    vCard, and that export imported again changes nothing."""
    from crmlite.core import exporting, importing

    plugins = app.extensions["crmlite.plugins"]
    path = tmp_path / "upload-1"
    path.write_bytes(ANDROID + IPHONE)
    imp = importing.create_import(db.session, plugins, str(path), "Контакты.vcf", None)
    db.session.commit()
    assert imp.importer == "vcard"
    importing.dry_run(db.session, plugins, imp)
    db.session.commit()
    counts = importing.run(db.session, plugins, imp.id, None)
    assert (counts["create"], counts["error"]) == (3, 0)
    ivan = db.session.scalar(select(Contact).where(Contact.last_name == "Иванов"))
    assert (ivan.first_name, ivan.middle_name, ivan.company) == (
        "Иван",
        "Петрович",
        "ООО «Ромашка»",
    )
    assert [(p.e164, p.label, p.is_primary) for p in ivan.phones] == [
        ("+79161234567", "mobile", True),
        ("+74951234567", "home", False),
    ]
    assert [t.name for t in ivan.tags] == ["My Contacts"]

    exporter = exporting.exporters(plugins)["vcard"]
    rows = exporting.records(db.session, select(Contact.id))
    exported = tmp_path / "export.vcf"
    exported.write_bytes(b"".join(exporting.stream(exporter, rows, {})))
    db.session.commit()
    again = importing.create_import(db.session, plugins, str(exported), "export.vcf", None)
    db.session.commit()
    preview = importing.dry_run(db.session, plugins, again)
    assert preview["counts"] == {"unchanged": 3}
