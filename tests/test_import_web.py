"""The import pages through the Flask client: upload -> mapping -> dry run -> run -> report ->
rejected rows -> undo; viewers cannot import; big and unreadable files are refused."""

import csv
import io
import re

from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import Contact, Import, ImportMapping

RUSSIAN = (
    "Фамилия;Имя;Телефон;Почта;Компания;Город;Заметка\n"
    "Иванов;Иван;8 (912) 345-67-02;ivanov@mail.ru;ООО Ромашка;Москва;звонить утром\n"
    "Петрова;Мария;+7 916 000-00-01;petrova@yandex.ru;АО Север;Казань;\n"
    "Сидоров;Пётр;12345;sidorov@mail.ru;;Тверь;\n"
)


def upload(client, text: str, name: str = "клиенты.csv", encoding: str = "cp1251", **form):
    data = {"file": (io.BytesIO(text.encode(encoding)), name), **form}
    return client.post("/imports/", data=data, content_type="multipart/form-data")


def contacts_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Contact.id)))


def test_the_whole_import_flow_in_the_browser(app, editor_client):
    page = editor_client.get("/imports/").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and "Import contacts" in page

    resp = upload(editor_client, RUSSIAN)
    assert resp.status_code == 302
    mapping_url = resp.headers["Location"]
    import_id = int(re.search(r"/imports/(\d+)/mapping", mapping_url).group(1))

    page = editor_client.get(mapping_url).get_data(as_text=True)
    # A select per column, recognised columns chosen, sample values shown.
    assert page.count("<select") == 7
    assert re.search(r'name="col0">.*?<option value="last_name" selected>', page, re.S)
    assert "ivanov@mail.ru" in page
    # "Заметка" is not recognised: the user maps it to notes and saves the mapping.
    assert re.search(r'name="col6">\s*<option value="" selected>', page)
    form = {
        f"col{i}": t
        for i, t in enumerate(
            ["last_name", "first_name", "phone", "email", "company", "city", "notes"]
        )
    }
    resp = editor_client.post(mapping_url, data={**form, "save_as": "Excel клиенты"})
    assert resp.status_code == 302
    show_url = f"/imports/{import_id}"
    assert resp.headers["Location"].endswith(show_url)

    page = editor_client.get(show_url).get_data(as_text=True)
    assert "Nothing has been written yet" in page
    assert "new contacts: 2" in page and "rejected: 1" in page
    assert "12345" in page  # the reason of the bad row is shown
    assert contacts_count(app) == 0
    with app.app_context():
        assert db.session.scalar(select(ImportMapping.name)) == "Excel клиенты"

    resp = editor_client.post(f"{show_url}/run")
    assert resp.status_code == 302
    page = editor_client.get(show_url).get_data(as_text=True)
    assert "created: 2" in page and "rejected: 1" in page
    assert contacts_count(app) == 2
    with app.app_context():
        ivan = db.session.scalar(select(Contact).where(Contact.last_name == "Иванов"))
        assert (ivan.notes, ivan.source) == ("звонить утром", "import")

    resp = editor_client.get(f"{show_url}/rejected.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    assert rows[0][-2:] == ["row", "reason"]
    assert rows[1][:2] == ["Сидоров", "Пётр"] and "12345" in rows[1][-1]

    resp = editor_client.post(f"{show_url}/undo")
    assert resp.status_code == 302
    page = editor_client.get(show_url).get_data(as_text=True)
    assert "Undone: 2 contacts removed" in page
    assert contacts_count(app) == 0
    # An undone import cannot be run again.
    assert editor_client.post(f"{show_url}/run").status_code == 409

    # The next file with the same columns can use the saved mapping.
    page = editor_client.get("/imports/").get_data(as_text=True)
    assert "Excel клиенты" in page and "undone" in page


def test_second_upload_of_the_same_file_is_all_updates(app, editor_client):
    text = "first_name,last_name,email\nAnn,Lee,ann@lee.com\nBo,Ray,bo@ray.com\n"
    for expected in ("new contacts: 2", "unchanged: 2"):
        resp = upload(editor_client, text, "people.csv", "utf-8")
        show_url = resp.headers["Location"].replace("/mapping", "")
        mapping_page = editor_client.get(resp.headers["Location"]).get_data(as_text=True)
        form = dict(
            re.findall(r'name="(col\d)">.*?<option value="([^"]*)" selected>', mapping_page, re.S)
        )
        editor_client.post(resp.headers["Location"], data=form)
        assert expected in editor_client.get(show_url).get_data(as_text=True)
        editor_client.post(f"{show_url}/run")
    assert contacts_count(app) == 2


def test_viewers_cannot_import(app, viewer_client, editor_client):
    page = viewer_client.get("/imports/").get_data(as_text=True)
    assert "multipart/form-data" not in page
    assert upload(viewer_client, RUSSIAN).status_code == 403
    resp = upload(editor_client, RUSSIAN)
    mapping_url = resp.headers["Location"]
    import_id = int(re.search(r"/imports/(\d+)/", mapping_url).group(1))
    assert viewer_client.get(mapping_url).status_code == 403
    assert viewer_client.post(f"/imports/{import_id}/run").status_code == 403
    assert viewer_client.post(f"/imports/{import_id}/undo").status_code == 403
    assert contacts_count(app) == 0


def test_bad_files_get_a_clear_message_and_change_nothing(app, editor_client):
    app.config["IMPORT_MAX_BYTES"] = 1024 * 1024
    try:
        resp = upload(editor_client, "a,b\n" + "x,y\n" * 300_000, "big.csv", "utf-8")
        assert resp.status_code == 413
        assert "larger than 1 MB" in resp.get_data(as_text=True)
    finally:
        del app.config["IMPORT_MAX_BYTES"]
    resp = upload(editor_client, "%PDF-1.4", "scan.pdf", "utf-8")
    assert resp.status_code == 422
    assert "No importer reads “scan.pdf”" in resp.get_data(as_text=True)
    resp = editor_client.post("/imports/", data={}, content_type="multipart/form-data")
    assert resp.status_code == 422 and "Choose a file" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Import.id))) == 0
