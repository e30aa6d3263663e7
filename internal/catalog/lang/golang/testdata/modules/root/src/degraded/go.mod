module example.com/degraded

go 1.22

require (
	golang.org/x/text v0.3.0
	github.com/gin-gonic/gin latest
	github.com/no/version
)
