module gotrace.demo

go 1.19
