"""Small utilities shared by the tools: data checks, config helpers, safe file writing."""
from .data_check import DataContentError, DataNotFoundError, check_data_roots
from .fileio import atomic_write, refuse_overwrite, refuse_same_file

__all__ = ['DataContentError', 'DataNotFoundError', 'check_data_roots', 'atomic_write',
           'refuse_overwrite', 'refuse_same_file']
