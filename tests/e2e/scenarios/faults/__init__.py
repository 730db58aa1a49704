"""Bad input the program's steps refuse at once, naming the node and the fix."""
