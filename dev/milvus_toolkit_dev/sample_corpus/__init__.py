"""Documentation and generator of the sample corpus in ``include/sample_corpus`` (README.md,
make_pdf.py). Nothing here is imported by the toolkit."""
