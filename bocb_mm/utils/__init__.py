"""Small utilities shared by the tools: data checks and config helpers."""
from .data_check import DataNotFoundError, check_data_roots

__all__ = ['DataNotFoundError', 'check_data_roots']
