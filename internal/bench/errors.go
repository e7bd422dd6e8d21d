package bench

import "errors"

func asApp[T error](err error, target *T) bool { return errors.As(err, target) }
