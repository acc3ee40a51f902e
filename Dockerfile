# The Airflow image for open-orders-sync: the official image plus this project's
# requirements and code. Compose builds it (see docker-compose.yaml); for Celery or
# Kubernetes workers push it to a registry and run the same image everywhere.
#
# The tag must match the apache-airflow pin in requirements.txt (tests/test_compose.py
# checks it), and its Python must match the one constraints.txt was resolved for.
FROM apache/airflow:3.3.2-python3.11

# Installed as the image's airflow user, as the official image expects; apache-airflow is
# pinned in requirements.txt, so pip cannot swap the Airflow version underneath the image.
COPY --chown=airflow:0 requirements.txt constraints.txt /opt/airflow/requirements/
RUN pip install --no-cache-dir \
        -r /opt/airflow/requirements/requirements.txt \
        -c /opt/airflow/requirements/constraints.txt

# The code is baked in so workers on other machines need no shared disk; compose also
# bind-mounts these folders over the copies for editing on a laptop.
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 include/ /opt/airflow/include/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 devtools/ /opt/airflow/devtools/
COPY --chown=airflow:0 docker/ /opt/airflow/docker/

# `include` and `devtools` are imported as top-level packages by DAGs and by the
# mssql-init container.
ENV PYTHONPATH=/opt/airflow
