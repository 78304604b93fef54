"""What the stored answers add up to, and the files they leave in (CSV, XLSX)."""
