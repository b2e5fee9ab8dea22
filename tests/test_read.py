"""Readers against files built here: encodings, separators, Excel values, layout rows, unsafe files."""

from __future__ import annotations

import codecs
import datetime as dt
import zipfile
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from lakectl.errors import SourceError
from lakectl.read.safety import Limits
from lakectl.read.sheets import ReadOptions, read_file

from .conftest import write_far_cell_xlsx


def rows_of(path: Path, options: ReadOptions | None = None) -> tuple[list, pl.DataFrame]:
    frames = read_file(path, options or ReadOptions())
    data = pl.concat([pl.from_arrow(b) for f in frames for b in f.batches()], how="diagonal")
    return frames, data


CSV_TEXT = 'Relatório de vendas\n\nCódigo;Cliente;Valor\nHP001;José;1.234,56\nHP002;"Ana\nMaria";€ 10,00\nTotal;;1.244,56\n'


@pytest.mark.parametrize(
    "encoding,prefix",
    [
        ("utf-8", b""),
        ("utf-8", codecs.BOM_UTF8),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("cp1252", b""),
        ("utf-16-le", b""),
    ],
)
def test_csv_encodings_titles_totals_and_quoted_newlines(tmp_path, encoding, prefix):
    path = tmp_path / "vendas.csv"
    path.write_bytes(prefix + CSV_TEXT.encode(encoding))
    frames, data = rows_of(path)
    assert frames[0].columns == ["codigo", "cliente", "valor"]
    assert frames[0].header_row == 3
    assert data["codigo"].to_list() == ["HP001", "HP002"]
    assert data["cliente"].to_list() == ["José", "Ana\nMaria"]
    assert data["valor"].to_list() == ["1.234,56", "€ 10,00"]
    assert data["_row"].to_list() == [4, 5]
    assert any("Total" in d for d in frames[0].dropped)
    assert any("Relatório" in d for d in frames[0].dropped)


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_separator_sniffing(tmp_path, sep):
    path = tmp_path / "x.txt"
    path.write_text(sep.join(["id", "nome", "cep"]) + "\n" + sep.join(["1", "Zé", "01310-100"]) + "\n")
    frames, data = rows_of(path)
    assert frames[0].columns == ["id", "nome", "cep"]
    assert data.select("id", "nome", "cep").row(0) == ("1", "Zé", "01310-100")


def test_cr_only_line_ends_and_nul_bytes(tmp_path):
    path = tmp_path / "old_mac.csv"
    path.write_bytes(b"a,b\r1,x\x00y\r2,z\r")
    frames, data = rows_of(path)
    assert data["b"].to_list() == ["xy", "z"]
    assert any("NUL" in n for n in frames[0].notes)


def test_ragged_lines_keep_every_field(tmp_path):
    from lakectl.read.delimited import RaggedRows, read_csv

    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n" + "1,2\n" * 60 + "3,4,extra\n")
    with pytest.raises(RaggedRows):
        list(read_file(path)[0].batches())
    frame = read_csv(path, lenient=True)
    data = pl.concat([pl.from_arrow(b) for b in frame.batches()])
    assert frame.columns == ["a", "b", "column_3"]
    assert data["column_3"].drop_nulls().to_list() == ["extra"]


def make_xlsx(path: Path, rows: list[list], hidden: bool = False, title: str | None = None) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Vendas")
    date_format = book.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    offset = 0
    if title:
        sheet.write(0, 0, title)
        offset = 2
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, dt.datetime):
                sheet.write_datetime(r + offset, c, value, date_format)
            elif value is not None:
                sheet.write(r + offset, c, value)
    other = book.add_worksheet("Oculta")
    other.write_row(0, 0, ["x", "y"])
    other.write_row(1, 0, [1, 2])
    if hidden:
        other.hide()
    book.close()
    return path


def test_excel_values_are_lossless_text(tmp_path):
    path = make_xlsx(
        tmp_path / "v.xlsx",
        [
            ["id", "valor", "quando", "cep", "ok"],
            [97.0, 0.1, dt.datetime(2026, 10, 5, 14, 3, 0), "01310-100", True],
            [2, 1.5e-12, dt.datetime(2026, 10, 6), "007", False],
            [3, 0.123456789012, dt.datetime(2026, 10, 7, 1, 2, 3), "n/a", None],
        ],
        title="Relatório",
    )
    frames, data = rows_of(path, ReadOptions(include_hidden=True))
    first = frames[0]
    assert first.header_row == 3
    got = pl.concat([pl.from_arrow(b) for b in first.batches()])
    assert got["id"].to_list() == ["97", "2", "3"]
    assert got["valor"].to_list() == ["0.1", "1.5e-12", "0.123456789012"]
    assert got["quando"].to_list() == ["2026-10-05T14:03:00", "2026-10-06", "2026-10-07T01:02:03"]
    assert got["cep"].to_list() == ["01310-100", "007", "n/a"]
    assert got["ok"].to_list() == ["true", "false", None]
    assert got["_row"].to_list() == [4, 5, 6]
    assert [f.sheet for f in frames] == ["Vendas", "Oculta"] and data.height == 4


def test_hidden_sheets_are_skipped_unless_asked(tmp_path):
    path = make_xlsx(tmp_path / "h.xlsx", [["a"], ["1"]], hidden=True)
    assert [f.sheet for f in read_file(path)] == ["Vendas"]
    assert [f.sheet for f in read_file(path, ReadOptions(include_hidden=True))] == ["Vendas", "Oculta"]


def test_far_cell_xlsx_is_refused_before_parsing(tmp_path):
    with pytest.raises(SourceError, match="1,048,576 rows x 16,384 columns"):
        read_file(write_far_cell_xlsx(tmp_path / "far.xlsx"))


def test_optimistic_read_skips_the_range_scan_but_bounds_what_calamine_loaded(tmp_path):
    """In the capped child (ReadOptions.optimistic) the used range is not scanned first: a far cell
    only kills the child (runner.isolated then checks fully), and a range that does load is
    bounded by the same limit."""
    from lakectl.read.safety import check_file

    far = write_far_cell_xlsx(tmp_path / "far.xlsx")
    kind, facts = check_file(far, Limits(), full=False)  # the cheap checks pass: nothing was scanned
    assert kind == "xlsx" and facts is not None and facts.extents["Sheet1"].first_row == 1
    wide = make_xlsx(tmp_path / "wide.xlsx", [["a", "b"], [1, 2]] + [[None]] * 1997 + [[None] * 25 + ["z"]])
    small = Limits(max_cells=10_000)  # 2,000 rows x 26 columns = 52,000 cells
    for optimistic in (False, True):
        with pytest.raises(SourceError, match="spans 2,000 rows x 26 columns"):
            read_file(wide, ReadOptions(limits=small, optimistic=optimistic))
    assert read_file(wide, ReadOptions(optimistic=True))[0].columns[:2] == ["a", "b"]


def test_wrong_dimension_element_does_not_refuse_a_small_sheet(tmp_path):
    path = make_xlsx(tmp_path / "dim.xlsx", [["a", "b"], [1, 2]])
    patched = tmp_path / "dim2.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(patched, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<dimension ref="A1:B2"/>', b'<dimension ref="A1:XFD1048576"/>')
            dst.writestr(item, data)
    assert read_file(patched)[0].columns == ["a", "b"]


def _rewrite(path: Path, out: Path, part: str, transform) -> Path:
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item.filename, transform(data) if item.filename == part else data)
    return out


def test_dtd_and_zip_bomb_are_refused(tmp_path):
    base = make_xlsx(tmp_path / "b.xlsx", [["a"], [1]])
    xxe = _rewrite(
        base,
        tmp_path / "xxe.xlsx",
        "xl/workbook.xml",
        lambda d: d.replace(b"?>", b'?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/hostname">]>', 1),
    )
    with pytest.raises(SourceError, match="DTD"):
        read_file(xxe)
    bomb = _rewrite(base, tmp_path / "bomb.xlsx", "xl/sharedStrings.xml", lambda d: d + b" " * (20 << 20))
    with pytest.raises(SourceError, match="zip bomb"):
        read_file(bomb, ReadOptions(limits=Limits()))


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("a.xlsx", b"id,name\n1,x\n", "neither a zip"),
        ("a.pdf", b"%PDF", "unsupported file type"),
        ("a.csv", b"", "empty"),
        ("cut.xlsx", b"PK\x03\x04garbage", "not a valid xlsx"),
    ],
)
def test_bad_files_get_a_reason(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError, match=message) as info:
        read_file(path)
    assert name in str(info.value)
