module example.com/lax

go 1.99

futuredirective foo

require github.com/a/b v1.2.3

replace github.com/a/b => github.com/c/d v2.0.0
