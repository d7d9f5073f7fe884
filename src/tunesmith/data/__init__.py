"""The data stage: load, map fields, curate, split, write data/{train,val,test}.jsonl."""
