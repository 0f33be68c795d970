/* tessera: a self-hosted access-token service. Everything happens in cli.c. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
