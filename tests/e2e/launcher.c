/* The simulated bundle's com.docker.hyperkit must be a real executable (not a script: the shim module
 * rightly treats an unknown script as another tool's shim). This launcher execs the Python stand-in
 * with the same argv. Paths are compiled in by the test: -DPYTHON="..." -DSTANDIN="...". */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char **args = calloc((size_t)argc + 2, sizeof(char *));
    if (args == NULL) return 1;
    args[0] = PYTHON;
    args[1] = STANDIN;
    for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
    execv(PYTHON, args);
    perror("execv");
    return 127;
}
