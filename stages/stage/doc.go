// Package stage is the contract every side of imaging-tui shares: the stage
// kinds and the table that describes each one (its links, flags' default
// endpoints, faults and start order), the delivery modes, what each control
// signal means to a stage, the supervisor's event kinds, the malloc
// environment a frame-receiving stage needs, and size parsing.
//
// It is pure Go and imports nothing of the project, so the supervisor, its
// configuration, the console and the database tools read the same
// definitions the stages run by without linking OpenCV or libzmq. Each name
// here is defined once; a second copy elsewhere is a bug.
//
// Adding a stage kind: a Spec in Table (table.go), and a file in package
// stages with its flags and loop, named in that package's stage list.
package stage
