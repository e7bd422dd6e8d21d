package devserver

// discardSDKLogger drops the SDK client's logs of the short-lived operator
// client used at start.
type discardSDKLogger struct{}

func (discardSDKLogger) Debug(string, ...any) {}
func (discardSDKLogger) Info(string, ...any)  {}
func (discardSDKLogger) Warn(string, ...any)  {}
func (discardSDKLogger) Error(string, ...any) {}
