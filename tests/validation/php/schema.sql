-- Run by mariadbd at every start (--init-file): the petition's database, its table and its user.
CREATE DATABASE IF NOT EXISTS petition;
CREATE TABLE IF NOT EXISTS petition.signatures (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    email VARCHAR(200) NOT NULL,
    zip VARCHAR(20) NOT NULL,
    signed_at DATETIME(6) NOT NULL
) ENGINE = InnoDB;
CREATE USER IF NOT EXISTS 'petition'@'127.0.0.1' IDENTIFIED BY 'petition';
GRANT SELECT, INSERT ON petition.* TO 'petition'@'127.0.0.1';
