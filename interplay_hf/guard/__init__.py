"""What every entry point shares: the error policy (:mod:`.policy`), running a launched child (:mod:`.launched`)
with torch-elastic's noise filtered out (:mod:`.elastic_log`), and the output policy (:mod:`.outputs`: outputs never
meet inputs, special files, locks on output folders, staging folders)."""
