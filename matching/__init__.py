"""Record linkage: normalisers, comparators, settings, model, linker and household clustering."""
