"""Backbones that no installed library provides, and the zoo of the 20 paper backbones."""
