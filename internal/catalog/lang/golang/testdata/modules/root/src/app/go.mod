module example.com/app

go 1.22

toolchain go1.22.4

require (
	github.com/gin-gonic/gin v1.6.0
	golang.org/x/text v0.3.5
	github.com/old/wide v1.0.0
	github.com/old/pinned v1.0.0
	github.com/local/dir v0.1.0
	github.com/mattn/go-isatty v0.0.12 // indirect
)

require gopkg.in/yaml.v2 v2.2.8 // indirect

replace github.com/old/wide => github.com/new/wide v1.5.0

replace (
	github.com/old/pinned => github.com/new/everything v9.0.0
	github.com/old/pinned v1.0.0 => github.com/new/pinned v1.0.1
	github.com/local/dir => ../dir
	github.com/not/required => github.com/other v1.0.0
)

exclude golang.org/x/text v0.3.4
