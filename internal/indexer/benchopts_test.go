package indexer

func benchOptions() Options { return Options{} }
