"""The duplicate review pages through the Flask client: the queue, "not duplicates", the
side-by-side merge with field choices, the merges log with undo, bulk merge, and roles."""

import re

import pytest
from sqlalchemy import delete, select

from crmlite.core.contacts import create_contact, validate
from crmlite.extensions import db
from crmlite.models import Contact, ContactEmail, ContactPhone, DuplicatePair, Merge

HX = {"HX-Request": "true"}


@pytest.fixture
def pairs(app, users):
    """Ivan twice (same phone), Anna three times (a group), and Oleg/Olga (low score)."""
    with app.app_context():
        s = db.session

        def make(**raw):
            return create_contact(s, validate(raw), users["editor"]).id

        ivan1 = make(first_name="Ivan", last_name="Ivanov", phones=["+79123456789"], city="Moscow")
        ivan2 = make(
            first_name="Иван",
            last_name="Иванов",
            phones=["+79123456789", "+79990001122"],
            company="Romashka",
        )
        anna = [make(first_name="Anna", last_name=f"Smirnova{n}") for n in range(3)]
        oleg = make(first_name="Oleg", last_name="Popov")
        olga = make(first_name="Olga", last_name="Popova")
        # Only the pairs below (the finder, when installed, proposes its own on save).
        s.execute(delete(DuplicatePair))
        s.add_all(
            [
                DuplicatePair(
                    contact_a_id=ivan1,
                    contact_b_id=ivan2,
                    score=97,
                    reasons=[
                        {"code": "same_phone", "value": "+79123456789"},
                        {"code": "name_transliteration"},
                    ],
                ),
                DuplicatePair(contact_a_id=anna[0], contact_b_id=anna[1], score=90, reasons=[]),
                DuplicatePair(contact_a_id=anna[1], contact_b_id=anna[2], score=88, reasons=[]),
                DuplicatePair(
                    contact_a_id=oleg,
                    contact_b_id=olga,
                    score=40,
                    reasons=[{"code": "similar_name"}],
                ),
            ]
        )
        s.commit()
        ids = {"ivan": (ivan1, ivan2), "anna": anna, "oleg": (oleg, olga)}
        ids["pair"] = s.scalar(select(DuplicatePair.id).where(DuplicatePair.score == 97))
        ids["low"] = s.scalar(select(DuplicatePair.id).where(DuplicatePair.score == 40))
        s.remove()
        return ids


def test_queue_lists_pairs_best_first_with_reasons_and_groups(editor_client, pairs):
    page = editor_client.get("/duplicates/").get_data(as_text=True)
    assert "4 open pairs to review." in page
    assert "same phone +7 912 345-67-89; names match after transliteration" in page
    # The Anna group is one entry, not two pairs.
    assert page.count("Group of 3 contacts") == 1
    assert page.count('class="duplicate-pair"') == 2
    order = [page.index(x) for x in ("Ivanov", "Group of 3", "Popov")]
    assert order == sorted(order)
    # The minimum score filter.
    page = editor_client.get("/duplicates/?min_score=50").get_data(as_text=True)
    assert "3 open pairs to review." in page and "Popov" not in page
    # The navigation shows the page to editors.
    assert 'href="/duplicates/"' in page


def test_queue_pages_by_keyset(editor_client, pairs, app, monkeypatch):
    from crmlite.web import duplicates

    monkeypatch.setattr(duplicates, "PAGE_SIZE", 1)
    page = editor_client.get("/duplicates/").get_data(as_text=True)
    assert "Ivanov" in page and "Popov" not in page
    more = re.search(r'href="(/duplicates/\?min_score=0&amp;after=[^"]+)"', page).group(1)
    second = editor_client.get(more.replace("&amp;", "&"), headers=HX).get_data(as_text=True)
    assert "Group of 3 contacts" in second and "Ivanov" not in second and "<h1>" not in second
    # Without HTMX the same link is a whole page, with the count.
    page = editor_client.get(more.replace("&amp;", "&")).get_data(as_text=True)
    assert "<h1>Duplicates</h1>" in page and "4 open pairs to review." in page
    assert "Group of 3 contacts" in page and "Ivanov" not in page


def test_not_duplicates_is_remembered(editor_client, pairs, app, users):
    resp = editor_client.post(f"/duplicates/pairs/{pairs['low']}/dismiss", headers=HX)
    # The row is replaced by nothing; the count of open pairs goes down out of band.
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert "<tr" not in body
    assert '<p id="open-pairs" hx-swap-oob="true">3 open pairs to review.</p>' in body
    page = editor_client.get("/duplicates/").get_data(as_text=True)
    assert "Popov" not in page and "3 open pairs to review." in page
    with app.app_context():
        pair = db.session.get(DuplicatePair, pairs["low"])
        assert pair.status == "dismissed" and pair.decided_by_id == users["editor"]
        assert pair.decided_at is not None


def test_merge_with_field_choices_then_undo(editor_client, pairs, app):
    ivan1, ivan2 = pairs["ivan"]
    page = editor_client.get(f"/duplicates/pairs/{pairs['pair']}/merge").get_data(as_text=True)
    assert "Keep this contact" in page and "Romashka" in page
    assert "0 interactions" in page
    with app.app_context():
        phones = {
            p.e164: p.id
            for p in db.session.scalars(
                select(ContactPhone).where(ContactPhone.contact_id == ivan2)
            )
        }
        kept = [
            p.id
            for p in db.session.scalars(
                select(ContactPhone).where(ContactPhone.contact_id == ivan1)
            )
        ] + [phones["+79990001122"]]
    resp = editor_client.post(
        "/duplicates/merge",
        data={
            "ids": f"{ivan1},{ivan2}",
            "survivor": str(ivan1),
            "choice_first_name": str(ivan2),
            "choice_last_name": str(ivan1),
            "choice_city": str(ivan1),
            "choice_company": str(ivan2),
            "phones": [str(i) for i in kept],
        },
    )
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/contacts/{ivan1}")
    page = editor_client.get(f"/contacts/{ivan1}").get_data(as_text=True)
    assert "Merged 1 contact into this one." in page and "Undo" in page
    assert "merged duplicates into this contact" in page  # the history entry
    with app.app_context():
        survivor = db.session.get(Contact, ivan1)
        assert (survivor.first_name, survivor.last_name, survivor.company, survivor.city) == (
            "Иван",
            "Ivanov",
            "Romashka",
            "Moscow",
        )
        assert sorted(p.e164 for p in survivor.phones) == ["+79123456789", "+79990001122"]
        assert db.session.get(Contact, ivan2) is None
        merge_id = db.session.scalar(select(Merge.id))
    assert editor_client.get(f"/contacts/{ivan2}").status_code == 404

    log = editor_client.get("/duplicates/merges").get_data(as_text=True)
    assert f"#{ivan2}" in log and "Editor" in log
    resp = editor_client.post(
        f"/duplicates/merges/{merge_id}/undo", data={"next": "contact"}, headers=HX
    )
    assert resp.status_code == 204 and resp.headers["HX-Redirect"] == f"/contacts/{ivan1}"
    page = editor_client.get(f"/contacts/{ivan1}").get_data(as_text=True)
    assert "Merge undone: 1 contact is back." in page
    with app.app_context():
        assert db.session.get(Contact, ivan1).first_name == "Ivan"
        back = db.session.get(Contact, ivan2)
        assert back.first_name == "Иван" and back.company == "Romashka"
        assert len(back.phones) == 2
        pair = db.session.get(DuplicatePair, pairs["pair"])
        assert pair is not None and pair.status == "open"
    log = editor_client.get("/duplicates/merges").get_data(as_text=True)
    assert "undone" in log


def test_merge_refusals_change_nothing(editor_client, pairs, app):
    ivan1, ivan2 = pairs["ivan"]
    oleg, _olga = pairs["oleg"]
    for ids in (str(ivan1), "", "abc", ",".join(str(i) for i in range(1, 60))):
        resp = editor_client.get(f"/duplicates/merge?ids={ids}", follow_redirects=True)
        assert "Choose between 2 and 50 contacts to compare." in resp.get_data(as_text=True)
    resp = editor_client.post(
        "/duplicates/merge", data={"ids": str(ivan1), "survivor": str(ivan1)}, follow_redirects=True
    )
    assert "Choose between 2 and 50 contacts to compare." in resp.get_data(as_text=True)
    data = {"ids": f"{ivan1},{ivan2}", "survivor": str(oleg)}
    resp = editor_client.post("/duplicates/merge", data=data)
    assert resp.status_code == 422
    assert "Choose which contact to keep." in resp.get_data(as_text=True)
    data = {"ids": f"{ivan1},{ivan2}", "survivor": str(ivan1), "choice_city": str(oleg)}
    resp = editor_client.post("/duplicates/merge", data=data)
    assert resp.status_code == 422
    assert "outside this merge" in resp.get_data(as_text=True)
    editor_client.post(f"/contacts/{ivan2}/archive")
    with app.app_context():
        db.session.get(Contact, ivan2).is_archived = True
        db.session.commit()
    resp = editor_client.post(
        "/duplicates/merge", data={"ids": f"{ivan1},{ivan2}", "survivor": str(ivan1)}
    )
    assert resp.status_code == 422 and "archived" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Contact, ivan2) is not None
        assert db.session.scalar(select(Merge.id)) is None


def test_group_merge_and_bulk_merge_with_batch_undo(editor_client, pairs, app):
    anna = pairs["anna"]
    page = editor_client.get(f"/duplicates/merge?ids={','.join(map(str, anna))}")
    assert page.get_data(as_text=True).count("Keep this contact") == 3

    preview = editor_client.get("/duplicates/bulk?min_score=85").get_data(as_text=True)
    assert "2 groups would be merged" in preview
    assert "3 contacts would be merged into others." in preview
    # A background job (run at once in tests) with progress and a link to the merges.
    resp = editor_client.post("/duplicates/bulk", data={"min_score": "85"})
    assert resp.status_code == 302 and "/jobs/" in resp.headers["Location"]
    page = editor_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Bulk merge of duplicates" in page and "Done" in page
    assert re.search(r"<dt>Merged groups</dt><dd>2</dd>", page)
    assert 'href="/duplicates/merges"' in page
    page = editor_client.get("/duplicates/merges").get_data(as_text=True)
    assert page.count("Undo the whole bulk merge") == 2
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Contact)) == 4
        batch = db.session.scalar(select(Merge.batch_id))
    resp = editor_client.post(f"/duplicates/batches/{batch}/undo")
    page = editor_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Undid 2 merges." in page
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Contact)) == 7
    # A bad score is refused.
    resp = editor_client.post("/duplicates/bulk", data={"min_score": "abc"})
    assert "between 1 and 100" in editor_client.get(resp.headers["Location"]).get_data(as_text=True)


def test_viewers_may_look_but_not_merge(viewer_client, pairs, app):
    ivan1, ivan2 = pairs["ivan"]
    page = viewer_client.get("/duplicates/").get_data(as_text=True)
    assert "Ivanov" in page and "Not duplicates" not in page and "Scan for duplicates" not in page
    page = viewer_client.get(f"/duplicates/pairs/{pairs['pair']}/merge").get_data(as_text=True)
    assert "Keep this contact" in page and 'type="submit">Merge<' not in page
    assert viewer_client.post(f"/duplicates/pairs/{pairs['pair']}/dismiss").status_code == 403
    data = {"ids": f"{ivan1},{ivan2}", "survivor": str(ivan1)}
    assert viewer_client.post("/duplicates/merge", data=data).status_code == 403
    assert viewer_client.post("/duplicates/bulk", data={"min_score": "50"}).status_code == 403
    assert viewer_client.get("/duplicates/bulk").status_code == 403
    assert viewer_client.post("/duplicates/scan").status_code == 403
    assert viewer_client.post("/duplicates/merges/1/undo").status_code == 403
    with app.app_context():
        assert db.session.get(DuplicatePair, pairs["pair"]).status == "open"
        assert db.session.get(Contact, ivan2) is not None


def test_pages_need_login(client, pairs):
    for url in ("/duplicates/", "/duplicates/merges", "/duplicates/bulk"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_scan_button_starts_the_scan_job(editor_client, pairs, app):
    from crmlite import jobs

    resp = editor_client.post("/duplicates/scan")
    assert resp.status_code == 302
    if "dedup_scan" in jobs.HANDLERS:
        assert "/jobs/" in resp.headers["Location"]
    else:  # the finder is not installed: a clear message, no job
        page = editor_client.get(resp.headers["Location"]).get_data(as_text=True)
        assert "not available" in page


def test_emails_keep_both_by_default(editor_client, app, users):
    with app.app_context():
        a = create_contact(
            db.session, validate({"first_name": "A", "emails": ["a@x.ru"]}), users["editor"]
        ).id
        b = create_contact(
            db.session, validate({"first_name": "A", "emails": ["b@x.ru"]}), users["editor"]
        ).id
        db.session.commit()
        ids = [e.id for e in db.session.scalars(select(ContactEmail))]
    page = editor_client.get(f"/duplicates/merge?ids={a},{b}").get_data(as_text=True)
    assert len(re.findall(r'name="emails" value="\d+" checked', page)) == 2
    resp = editor_client.post(
        "/duplicates/merge",
        data={"ids": f"{a},{b}", "survivor": str(a), "emails": [str(i) for i in ids]},
    )
    assert resp.status_code == 302
    with app.app_context():
        assert sorted(e.email for e in db.session.get(Contact, a).emails) == ["a@x.ru", "b@x.ru"]


def test_a_group_of_three_is_merged_in_one_merge(editor_client, pairs, app):
    anna = pairs["anna"]
    resp = editor_client.post(
        "/duplicates/merge",
        data={
            "ids": ",".join(map(str, anna)),
            "survivor": str(anna[1]),
            "choice_last_name": str(anna[2]),
        },
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/contacts/{anna[1]}")
    page = editor_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Merged 2 contacts into this one." in page
    with app.app_context():
        (record,) = db.session.scalars(select(Merge)).all()
        assert record.survivor_id == anna[1] and record.merged_ids == [anna[0], anna[2]]
        assert db.session.get(Contact, anna[1]).last_name == "Smirnova2"
    # The group's pairs are closed: the queue no longer shows it.
    page = editor_client.get("/duplicates/").get_data(as_text=True)
    assert "Group of" not in page and "2 open pairs to review." in page
