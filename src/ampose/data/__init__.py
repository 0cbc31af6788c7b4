"""Datasets in the field's formats, the synthetic generator and the DataModule."""
