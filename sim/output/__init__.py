"""What a person reads: text tables, plots on a given ``ax``, the HTML report."""
