"""The dataset contract (DESIGN.md §3): loading and validating CSV files or an .xlsx
workbook, and writing CSV files.

Loading reads every file as text, checks every field, and raises one `DatasetError` that
lists every problem found (file, row, column, value, what is allowed). Only a dataset with no
problems becomes domain records, so nothing downstream ever sees half-valid data.

The contract per concern:

- `_contract`: the files, Denmark's bounding box, the offline place lookups (`PlaceResolver`);
- `_reading`: a CSV file as text rows, with the file-level checks (present, encoding,
  delimiter, header), as Excel writes them (BOM, cp1252, `;`, any header case);
- `_excel`: an .xlsx workbook, one sheet per file, as the same text rows;
- `_row`, `_parsers`: per-row validation, the field parsers and one parser per file;
- `_checks`: the checks across files (unique ids, references, occupied vs placements);
- `_load`: `load_dataset`, the three steps above in order;
- `_writing`: `write_dataset`;
- `_dataset`: the `Dataset` type.

Capacity pools live in `models.capacity`; `combination_pool` and `occupancy_by_pool` are
re-exported here for the code that imports them from this module.
"""

from models.capacity import combination_pool, occupancy_by_pool
from models.dataset._contract import DENMARK_BBOX, FILES, PlaceResolver, inside_denmark
from models.dataset._dataset import Dataset
from models.dataset._load import load_dataset
from models.dataset._parsers import parse_record
from models.dataset._reading import DatasetEncodingWarning
from models.dataset._row import plain_kroner, split_list
from models.dataset._writing import write_dataset

__all__ = [
    "DENMARK_BBOX",
    "FILES",
    "Dataset",
    "DatasetEncodingWarning",
    "PlaceResolver",
    "combination_pool",
    "inside_denmark",
    "load_dataset",
    "occupancy_by_pool",
    "parse_record",
    "plain_kroner",
    "split_list",
    "write_dataset",
]
