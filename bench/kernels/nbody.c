// N-body: all-pairs gravitational accelerations with Plummer softening and a
// kick-drift-kick leapfrog; bodies start in a random cube with a slight
// rotation. Checksums are the final total energy and a position moment.
// Usage: nbody S|W|A [-r]
#include "kernel.h"

#define SOFTENING2 1e-4
#define DT 1e-3
#define NCK 2

static const int bodies[3] = {512, 2048, 8192};
static const int steps[3] = {30, 25, 60};

static const double reference[3][NCK] = {
    {-0.94433420515095479, 0.25342513106942571},
    {-0.93065780520992869, 0.24830614360639872},
    {-0.93198940414960951, 0.2480881706791972},
};

struct system {
    int n;
    double *x, *y, *z, *vx, *vy, *vz, *ax, *ay, *az, *m;
};

static void accelerations(struct system *s)
{
    int n = s->n;
    const double *x = s->x, *y = s->y, *z = s->z, *m = s->m;
    for (int i = 0; i < n; i++) {
        double xi = x[i], yi = y[i], zi = z[i];
        double ax = 0, ay = 0, az = 0;
        for (int j = 0; j < n; j++) {
            double dx = x[j] - xi, dy = y[j] - yi, dz = z[j] - zi;
            double r2 = dx * dx + dy * dy + dz * dz + SOFTENING2;
            double inv = 1.0 / sqrt(r2);
            double f = m[j] * inv * inv * inv;
            ax += f * dx;
            ay += f * dy;
            az += f * dz;
        }
        s->ax[i] = ax;
        s->ay[i] = ay;
        s->az[i] = az;
    }
}

static void kick(struct system *s, double dt)
{
    for (int i = 0; i < s->n; i++) {
        s->vx[i] += dt * s->ax[i];
        s->vy[i] += dt * s->ay[i];
        s->vz[i] += dt * s->az[i];
    }
}

static void drift(struct system *s, double dt)
{
    for (int i = 0; i < s->n; i++) {
        s->x[i] += dt * s->vx[i];
        s->y[i] += dt * s->vy[i];
        s->z[i] += dt * s->vz[i];
    }
}

static void step(struct system *s)
{
    kick(s, 0.5 * DT);
    drift(s, DT);
    accelerations(s);
    kick(s, 0.5 * DT);
}

static double energy(const struct system *s)
{
    double kinetic = 0, potential = 0;
    for (int i = 0; i < s->n; i++) {
        kinetic += 0.5 * s->m[i] * (s->vx[i] * s->vx[i] + s->vy[i] * s->vy[i] + s->vz[i] * s->vz[i]);
        for (int j = i + 1; j < s->n; j++) {
            double dx = s->x[j] - s->x[i], dy = s->y[j] - s->y[i], dz = s->z[j] - s->z[i];
            potential -= s->m[i] * s->m[j] / sqrt(dx * dx + dy * dy + dz * dz + SOFTENING2);
        }
    }
    return kinetic + potential;
}

int main(int argc, char **argv)
{
    int c = kernel_class(argc, argv, "nbody");
    struct system s;
    int n = s.n = bodies[c];
    double **arrays[] = {&s.x, &s.y, &s.z, &s.vx, &s.vy, &s.vz, &s.ax, &s.ay, &s.az, &s.m};
    for (size_t a = 0; a < sizeof arrays / sizeof *arrays; a++)
        *arrays[a] = xmalloc((size_t)n * sizeof(double));
    for (int i = 0; i < n; i++) {
        s.x[i] = uniform() - 0.5;
        s.y[i] = uniform() - 0.5;
        s.z[i] = uniform() - 0.5;
        s.vx[i] = -0.3 * s.y[i] + 0.01 * (uniform() - 0.5);
        s.vy[i] = 0.3 * s.x[i] + 0.01 * (uniform() - 0.5);
        s.vz[i] = 0.01 * (uniform() - 0.5);
        s.m[i] = (0.5 + uniform()) / n;
    }
    accelerations(&s);
    for (int t = 0; t < steps[c]; t++) step(&s);
    double moment = 0;
    for (int i = 0; i < n; i++) moment += s.m[i] * (s.x[i] * s.x[i] + s.y[i] * s.y[i] + s.z[i] * s.z[i]);
    double ck[NCK] = {energy(&s), moment};
    return kernel_report("nbody", c, argc, argv, ck, reference[c], NCK, 1e-9);
}
