module pgkopf.local/tools/pause

go 1.26
