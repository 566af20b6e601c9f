package main

import (
	"fmt"
	"strconv"
	"time"
)

// positiveInt is an int flag that refuses values below 1: a count of 0 would
// reach the daemon as "not given" and silently mean its default.
type positiveInt int

func (n *positiveInt) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	if v < 1 {
		return fmt.Errorf("%d is less than 1", v)
	}
	*n = positiveInt(v)
	return nil
}

func (n *positiveInt) String() string { return strconv.Itoa(int(*n)) }

// Type implements pflag.Value.
func (n *positiveInt) Type() string { return "int" }

// positiveDuration is a duration flag that refuses zero and negative values,
// which would make every call time out at once.
type positiveDuration time.Duration

func (d *positiveDuration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 10s or 2m", s)
	}
	if v <= 0 {
		return fmt.Errorf("%s is not a positive duration (e.g. 10s or 2m)", s)
	}
	*d = positiveDuration(v)
	return nil
}

func (d *positiveDuration) String() string { return time.Duration(*d).String() }

// Type implements pflag.Value.
func (d *positiveDuration) Type() string { return "duration" }
