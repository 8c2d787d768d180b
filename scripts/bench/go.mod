module gotrace.bench

go 1.19
