"""The mapping file: it agrees with the data contract, and bad mappings fail loudly."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from include.table_sync.errors import MappingError
from include.table_sync.mapping import load_mapping
from tests.conftest import CONTRACT_DIR, REPO_ROOT

MAPPING_PATH = REPO_ROOT / "include" / "mappings" / "open_orders.yaml"


def contract_rows() -> list[dict[str, str]]:
    path = CONTRACT_DIR / "vwZSDOrder_Advanced.csv"
    assert path.exists(), f"data contract not found at {path} (shared/ must sit beside the repository)"
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_mapping_agrees_with_the_contract_column_for_column():
    mapping = load_mapping(MAPPING_PATH)
    contract = contract_rows()
    assert len(mapping.columns) == len(contract) == 67
    for column, row in zip(mapping.columns, contract, strict=True):
        assert column.source == row["source_column"], row["pos"]
        assert str(column.source_type) == row["sqlserver_type"], column.source
        assert column.target == row["target_column"], column.source
        assert column.target_type == row["postgres_type"], column.source
        assert column.conversion == row["conversion"], column.source
        assert column.nullable == (row["nullable"] == "yes"), column.source
        assert column.key == (row["key"] == "yes"), column.source


def test_mapping_names_source_target_and_defaults():
    mapping = load_mapping(MAPPING_PATH)
    assert mapping.source.qualified_name == "ProcessStatus.dbo.vwZSDOrder_Advanced"
    assert mapping.source.conn_id == "mssql_sap"
    assert mapping.target.conn_id == "postgres_orders"
    assert mapping.target.qualified_name == "public.open_orders"
    assert [c.target for c in mapping.key_columns] == ["sales_document", "sales_document_item"]
    assert mapping.thresholds.min_rows == 1
    assert mapping.thresholds.max_shrink == 0.5


def _write_variant(tmp_path: Path, change) -> Path:
    document = yaml.safe_load(MAPPING_PATH.read_text(encoding="utf-8"))
    change(document)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_unknown_conversion_names_file_column_and_value(tmp_path):
    path = _write_variant(tmp_path, lambda d: d["columns"][16].update(conversion="sap_dats"))
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    message = str(caught.value)
    assert str(path) in message and "CustomerPODate" in message and "'sap_dats'" in message
    assert caught.value.column == "CustomerPODate"


def test_duplicate_source_column_is_rejected(tmp_path):
    path = _write_variant(tmp_path, lambda d: d["columns"].append(dict(d["columns"][5], target="division_2")))
    with pytest.raises(MappingError, match=r"column 'Division'.*duplicate source column"):
        load_mapping(path)


def test_duplicate_target_column_is_rejected(tmp_path):
    path = _write_variant(tmp_path, lambda d: d["columns"][4].update(target="division"))
    with pytest.raises(MappingError, match="duplicate target column 'division'"):
        load_mapping(path)


def test_missing_key_is_rejected(tmp_path):
    path = _write_variant(tmp_path, lambda d: d.pop("key"))
    with pytest.raises(MappingError, match="missing required field 'key'"):
        load_mapping(path)


def test_key_must_be_a_mapped_column(tmp_path):
    path = _write_variant(tmp_path, lambda d: d.update(key=["SalesDocument", "ItemNo"]))
    with pytest.raises(MappingError, match="key column 'ItemNo' is not among the mapped columns"):
        load_mapping(path)


def test_conversion_must_fit_the_source_type(tmp_path):
    path = _write_variant(tmp_path, lambda d: d["columns"][33].update(conversion="sap_date"))
    with pytest.raises(
        MappingError, match=r"OrderQuantity.*'sap_date' cannot read source type decimal\(15,3\)"
    ):
        load_mapping(path)


def test_unknown_field_is_rejected(tmp_path):
    path = _write_variant(tmp_path, lambda d: d["columns"][0].update(nullabel=False))
    with pytest.raises(MappingError, match="unknown field.*nullabel"):
        load_mapping(path)


def test_bad_sql_server_type_is_rejected(tmp_path):
    path = _write_variant(tmp_path, lambda d: d["columns"][2].update(source_type="nvarchr(4)"))
    with pytest.raises(MappingError, match=r"SalesDocumentType.*unknown SQL Server type 'nvarchr\(4\)'"):
        load_mapping(path)


@pytest.mark.parametrize(
    ("section", "field", "value", "words"),
    [
        ("thresholds", "batch_rows", "5000", "valid integer"),
        ("thresholds", "batch_rows", 0, "greater than or equal to 1"),
        ("thresholds", "min_rows", -1, "greater than or equal to 0"),
        ("thresholds", "max_shrink", 1.5, "less than or equal to 1"),
        ("thresholds", "lock_timeout_ms", -5, "greater than or equal to 1"),
        ("thresholds", "lock_timeout_ms", "5s", "valid integer"),
        ("thresholds", "max_error_examples", 0, "greater than or equal to 1"),
        ("thresholds", "max_error_exmples", 20, "unknown field"),
        ("source", "conn_id", 42, "valid string"),
        ("target", "colour", "blue", "unknown field"),
    ],
)
def test_bad_setting_names_file_key_and_value(tmp_path, section, field, value, words):
    path = _write_variant(tmp_path, lambda d: d.setdefault(section, {}).update({field: value}))
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    message = str(caught.value)
    assert str(path) in message and f"{section}.{field}" in message and repr(value) in message
    assert words in message
    assert caught.value.field == f"{section}.{field}"


def test_nullable_must_be_a_boolean(tmp_path):
    path = _write_variant(tmp_path, lambda d: d["columns"][3].update(nullable="yes"))
    with pytest.raises(MappingError, match=r"column 'SalesOrganization'.*nullable.*'yes'") as caught:
        load_mapping(path)
    assert caught.value.column == "SalesOrganization"


def test_a_check_needs_a_name_and_sql(tmp_path):
    path = _write_variant(tmp_path, lambda d: d["checks"].append({"name": "no_sql"}))
    with pytest.raises(MappingError, match=r"checks\.1\.sql.*missing"):
        load_mapping(path)


def test_a_column_cannot_declare_itself_a_key(tmp_path):
    """The key is the mapping's ``key`` list, one place: a per-column flag is refused."""
    path = _write_variant(tmp_path, lambda d: d["columns"][7].update(key=True))
    with pytest.raises(MappingError, match=r"column 'SalesGroup'.*key: unknown field.*got True") as caught:
        load_mapping(path)
    assert caught.value.column == "SalesGroup"
