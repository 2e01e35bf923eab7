"""What a listing says decides deletes (issue 21): an entry that is listed but cannot be read
keeps its rows, a folder behind a link is still there, odd names are reported and never
crash a run, and markup or script is never indexed as text."""

from __future__ import annotations

import os
import threading
import unicodedata

from milvus_toolkit.ingest.documents import BadFile, LoadedDocument, discover, load
from milvus_toolkit.ingest.splitting import SplitSettings, split_document
from milvus_toolkit.sync import Scope


def names(folder) -> list[str]:
    corpus = discover(str(folder))
    return [corpus.relative(p) for p in corpus.files]


def loaded(folder) -> dict[str, LoadedDocument | BadFile]:
    return {item.source: item for item in load(discover(str(folder)))}


def test_a_dangling_link_is_listed_reported_and_keeps_its_rows(tmp_path):
    """Before: `shared.md` linking into a folder that is gone vanished from the listing, so
    the next reindex deleted its rows and reported no skipped file."""
    (tmp_path / "a.md").write_text("# A\n\ntext\n")
    (tmp_path / "shared.md").symlink_to(tmp_path / "gone" / "shared.md")
    assert names(tmp_path) == ["a.md", "shared.md"]
    item = loaded(tmp_path)["shared.md"]
    assert isinstance(item, BadFile) and "unreadable" in item.reason
    scope = Scope(loaded=["a.md"], failed=["shared.md"], listed_prefix="")
    assert not scope.is_gone("shared.md")


def test_a_folder_moved_behind_a_link_is_still_listed(tmp_path):
    """Before: `guide/` moved to another disk and linked back dropped out of the listing."""
    corpus, elsewhere = tmp_path / "corpus", tmp_path / "other-disk" / "guide"
    elsewhere.mkdir(parents=True)
    (elsewhere / "intro.md").write_text("# Intro\n\nhello\n")
    corpus.mkdir()
    (corpus / "top.md").write_text("# Top\n\nhi\n")
    (corpus / "guide").symlink_to(elsewhere, target_is_directory=True)
    assert names(corpus) == ["guide/intro.md", "top.md"]
    assert isinstance(loaded(corpus)["guide/intro.md"], LoadedDocument)


def test_a_link_loop_is_listed_once_and_ends(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.md").write_text("x\n")
    (tmp_path / "sub" / "back").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "sub" / "self").symlink_to(tmp_path / "sub", target_is_directory=True)
    assert names(tmp_path) == ["sub/x.md"]


def test_a_file_name_that_is_not_utf8_is_a_bad_file_and_the_rest_is_indexed(tmp_path):
    """Before: `caf\\xe9.md` crashed every run of its folder in chunk_id (UnicodeEncodeError)."""
    (tmp_path / "ok.md").write_text("# Ok\n\nfine\n")
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.md"), "wb") as f:
        f.write(b"# Cafe\n\ntext\n")
    items = loaded(tmp_path)
    bad = [item for item in items.values() if isinstance(item, BadFile)]
    assert len(bad) == 1 and "not valid UTF-8" in bad[0].reason and bad[0].source == "caf\\xe9.md"
    bad[0].source.encode("utf-8")  # reportable (XCom, logs, JSON)
    assert split_document(items["ok.md"], SplitSettings())


def test_nfc_and_nfd_forms_of_a_name_are_one_source(tmp_path):
    """A macOS-synced copy names `résumé.md` in NFD: it is the same source as the NFC name."""
    nfd = unicodedata.normalize("NFD", "résumé.md")
    (tmp_path / nfd).write_text("# CV\n\ntext\n")
    assert names(tmp_path) == [unicodedata.normalize("NFC", "résumé.md")]
    assert isinstance(loaded(tmp_path)[unicodedata.normalize("NFC", "résumé.md")], LoadedDocument)


def test_two_files_whose_names_differ_only_in_normal_form_are_both_reported(tmp_path):
    (tmp_path / unicodedata.normalize("NFD", "é.md")).write_text("one\n")
    (tmp_path / unicodedata.normalize("NFC", "é.md")).write_text("two\n")
    items = list(load(discover(str(tmp_path))))
    assert all(isinstance(i, BadFile) and "same name" in i.reason for i in items) and len(items) == 2


def test_a_fifo_is_reported_not_read(tmp_path):
    (tmp_path / "a.md").write_text("a\n")
    os.mkfifo(tmp_path / "pipe.md")
    result: list = []
    reader = threading.Thread(target=lambda: result.extend(load(discover(str(tmp_path)))), daemon=True)
    reader.start()
    reader.join(10)
    assert not reader.is_alive(), "reading a FIFO blocked the run"
    bad = {i.source: i.reason for i in result if isinstance(i, BadFile)}
    assert "not a regular file" in bad["pipe.md"]


# ---- HTML: markup, script and style are never text -------------------------------------------

IMAGE_ONLY = '<html><head><title></title></head><body><img src="a.png"><img src="b.png"></body></html>'
APP_SHELL = (
    '<html><head><script>window.__STATE__={"user":"ann","token":"s3cr3t"}</script>'
    '<style>body{color:red}</style></head><body><div id="root"></div><noscript>Enable JS</noscript></body></html>'
)
WITH_TEXT = (
    '<html><head><script>var secret = "s3cr3t";</script><style>.x{}</style></head>'
    "<body><h1>Pump</h1><p>Check the pump weekly.</p><script>track()</script></body></html>"
)


def html(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    return loaded(tmp_path)[name]


def test_html_without_text_is_skipped_like_a_pdf_without_text(tmp_path):
    """Before: an image-only page was stored as its markup, an app-shell page as its script."""
    for name, page in (("images.html", IMAGE_ONLY), ("shell.html", APP_SHELL)):
        item = html(tmp_path, name, page)
        assert isinstance(item, BadFile) and "HTML without text" in item.reason, name


def test_script_style_and_markup_never_reach_a_chunk(tmp_path):
    doc = html(tmp_path, "page.html", WITH_TEXT)
    for splitter in ("auto", "html", "recursive", "markdown"):
        chunks = split_document(doc, SplitSettings(splitter, 200, 20))
        text = " ".join(c.page_content for c in chunks)
        assert "Check the pump weekly." in text, splitter
        for leak in ("s3cr3t", "track()", ".x{}", "<p>", "<h1>"):
            assert leak not in text, (splitter, leak)


def test_a_glob_listing_answers_for_the_names_its_pattern_matches_and_no_others():
    """Before: a reindex of a glob (a declared index may use one) never removed a deleted or
    renamed file, because a glob listing was taken to say nothing about unlisted names."""
    from fsspec.utils import glob_translate

    scope = Scope(loaded=["docs/b.md"], listed_prefix="docs", listed_pattern=glob_translate("**/*.md"))
    assert scope.is_gone("docs/a.md") and scope.is_gone("docs/deep/c.md")
    assert not scope.is_gone("docs/notes.txt"), "not matched by the pattern: another listing's"
    assert not scope.is_gone("other/a.md") and not scope.is_gone("docs/b.md")
    ingest = Scope(loaded=["docs/b.md"], listed_prefix="docs", deletes_unlisted=False)
    assert ingest.is_unlisted("docs/a.md") and not ingest.is_gone("docs/a.md"), "ingest reports, never deletes"
